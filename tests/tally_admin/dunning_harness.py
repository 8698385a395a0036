"""The dunning page behind the real sign-in, as dashboard.py registers it (for AppTest)."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from pages.views.dunning_page import dunning_page  # noqa: E402
from tests.support.signed_in_app import signed_in_pages  # noqa: E402

user, pages = signed_in_pages()
if user.is_admin:
    pages.append(st.Page(dunning_page, title="Dunning desk", url_path="dunning"))
st.navigation(pages).run()
