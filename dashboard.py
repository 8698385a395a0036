"""Tally's Streamlit entry point (`make run` serves it through `python -m tally_ui.serve`).

The entry point signs the user in, makes sure there is data (the demo account
on first start), draws the global controls and runs the chosen page. Page
modules live in `pages/views/`, out of reach of Streamlit's own `pages/`
discovery, and only define functions: nothing renders before this file has run. Page URLs
(`/mrr`) differ from the module names (`pages/views/mrr_page.py`) on purpose: a URL
equal to a file's name makes a fresh server run that file instead of this one.
"""
import streamlit as st

# An emoji favicon is drawn in the browser; a :material: one is fetched from
# fonts.gstatic.com, which fails offline (ERR_NAME_NOT_RESOLVED in the console).
st.set_page_config(layout="wide", page_title="Tally", page_icon="📊")

import tally_auth  # noqa: E402
from pages.views.acquisition_page import acquisition_page  # noqa: E402
from pages.views.customer_page import customer_page  # noqa: E402
from pages.views.customers_page import customers_page  # noqa: E402
from pages.views.data_export_page import data_export_page  # noqa: E402
from pages.views.forecast_page import forecast_page  # noqa: E402
from pages.views.goals_page import goals_page  # noqa: E402
from pages.views.mrr_page import mrr_page  # noqa: E402
from pages.views.notifications_page import notifications_page  # noqa: E402
from pages.views.overview_page import overview_page  # noqa: E402
from pages.views.payments_page import payments_page  # noqa: E402
from pages.views.refunds_page import refunds_page  # noqa: E402
from pages.views.sync_page import sync_page  # noqa: E402
from pages.views.tax_page import tax_page  # noqa: E402
from tally_ui import filters, prefetch, published, serve, setup  # noqa: E402


def admin_pages(user) -> list:
    try:
        from pages.views import admin
    except ModuleNotFoundError as error:  # the admin pages are optional: absent, not broken
        if error.name != "pages.views.admin":
            raise  # a dependency of the admin pages is missing: say so, do not hide the pages
        return []
    from pages.views.dunning_page import dunning_page
    if user.is_admin:
        return [st.Page(admin.refund_page, title="Refund a charge", url_path="refund"),
                st.Page(admin.cancel_page, title="Cancel a subscription", url_path="cancel"),
                st.Page(dunning_page, title="Dunning desk", url_path="dunning"),
                st.Page(admin.audit_page, title="Audit trail", url_path="audit"),
                st.Page(notifications_page, title="Notifications", url_path="notifications")]
    if not tally_auth.auth_configured():
        return [st.Page(admin.locked_page, title="Admin", url_path="admin-locked")]
    return []


def navigation(user):
    sections = {
        "Revenue": [st.Page(overview_page, title="Overview", url_path="overview", default=True),
                    st.Page(mrr_page, title="MRR", url_path="mrr"),
                    st.Page(customers_page, title="Customers & retention", url_path="customers"),
                    # reached from the links in every table of customers, not from the menu
                    st.Page(customer_page, title="Customer", url_path="customer", visibility="hidden"),
                    st.Page(forecast_page, title="Forecast", url_path="forecast")],
        "Money": [st.Page(payments_page, title="Payments", url_path="payments"),
                  st.Page(refunds_page, title="Refunds & disputes", url_path="refunds"),
                  st.Page(tax_page, title="Tax", url_path="tax")],
        "Growth": [st.Page(acquisition_page, title="Acquisition", url_path="acquisition"),
                   st.Page(goals_page, title="Goals & annotations", url_path="goals")],
        "Data": [st.Page(data_export_page, title="Data & export", url_path="data"),
                 st.Page(sync_page, title="Sync", url_path="sync")],
    }
    admin = admin_pages(user)
    if admin:
        sections["Admin"] = admin
    return st.navigation(sections)


def main() -> None:
    serve.no_pages_folder()  # for `streamlit run dashboard.py`: from the next run on, whoever signs in
    user = tally_auth.authenticate()
    if user is None:
        st.stop()
    setup.ensure_database()
    prefetch.watch()  # once per process: warm the default view after every publish
    page = navigation(user)
    problem = published.unreadable()
    if problem:  # every page reads the database: one message instead of each page's traceback
        st.error(problem)
        st.stop()
    try:
        params = filters.sidebar() if published.has_data() else None
        page.run()
    except published.DatabaseUnreadable as error:  # a damaged block met while reading: one message
        st.error(published.unreadable() or str(error))  # (which also logs it, once)
        return
    if params is not None:
        prefetch.start(params)  # the other pages' numbers, while this one is read


main()
