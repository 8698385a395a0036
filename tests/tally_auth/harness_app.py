"""A stand-in for dashboard.py's navigation, as the auth interface asks it to be done."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from pages.views import admin  # noqa: E402
from tally_auth import auth_configured  # noqa: E402
from tests.support.signed_in_app import signed_in_pages  # noqa: E402

user, pages = signed_in_pages()
if user.is_admin:
    pages += [st.Page(admin.refund_page, title="Refund", url_path="refund"),
              st.Page(admin.cancel_page, title="Cancel subscription", url_path="cancel"),
              st.Page(admin.audit_page, title="Audit", url_path="audit")]
elif not auth_configured():
    pages.append(st.Page(admin.locked_page, title="Admin", url_path="admin"))
st.navigation(pages).run()
