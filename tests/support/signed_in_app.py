"""What every AppTest stand-in for dashboard.py's navigation starts with: the real sign-in, then
an Overview page every signed-in user gets."""
import streamlit as st

from tally_auth import authenticate


def overview():
    st.title("Overview")


def signed_in_pages():
    """(user, [the Overview page]) for the signed-in user; the script stops while nobody is."""
    user = authenticate()
    if user is None:
        st.stop()
    return user, [st.Page(overview, title="Overview", url_path="overview", default=True)]
