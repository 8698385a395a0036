"""Acquisition: marketing spend (typed in or uploaded as CSV), CAC, payback, LTV:CAC."""
from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import streamlit as st

import tally_auth
from metrics.params import Params
from tally_admin.data_changes import AuditUnavailable, audited_change
from tally_ui import charts, layout, published, widgets, writes

CSV_HELP = "CSV columns: month (YYYY-MM), amount (e.g. 1250.50), currency (e.g. usd), channel (optional)."


def acquisition_page() -> None:
    params = layout.header("Acquisition", "Stripe does not know what you spend on marketing: enter it here.")
    if params is None:
        return
    if params.plans or params.intervals or params.countries:
        st.caption("Marketing spend has no plan, interval or country: the filters narrow the new "
                   "customers and new MRR, never the spend.")
    frame = widgets.metric_frame("ltv_cac", params, empty="No CAC yet: add marketing spend below.")
    if frame is not None:
        cards(frame)
        charts.show(charts.lines(frame.dropna(subset=["cac"]), "month", "cac", title="CAC (spend / new customers)"),
                    key="acquisition_cac")
        widgets.table(frame.sort_values("month", ascending=False), published.money_columns("ltv_cac"))
    st.subheader("Marketing spend")
    spend = widgets.metric_frame("marketing_spend", Params(), empty="No marketing spend recorded yet.")
    if spend is not None:
        widgets.table(spend, published.money_columns("marketing_spend"), height=240)
    writer = tally_auth.data_writer()
    if writer is None:
        st.caption(tally_auth.READ_ONLY_NOTE)
        return
    left, right = st.columns(2)
    with left:
        spend_form(writer)
    with right:
        spend_upload(writer)


def cards(frame) -> None:
    currency = layout.pick_currency(frame, key="acquisition_currency")
    rows = widgets.of_currency(frame, currency)
    columns = st.columns(3)
    widgets.card(columns[0], "CAC", *widgets.last_two(rows, "cac"), "money", currency, inverse=True)
    widgets.card(columns[1], "CAC payback (months)", *widgets.last_two(rows, "cac_payback_months"), "decimal",
              inverse=True)
    ratio = widgets.last_two(rows, "ltv_to_cac")
    columns[2].metric("LTV:CAC", "—" if ratio[0] is None or pd.isna(ratio[0]) else f"{ratio[0]:.1f}×", border=True)


def spend_form(writer: tally_auth.User) -> None:
    with st.form("spend_form", clear_on_submit=True):
        st.markdown("**Add one month**")
        month = st.date_input("Month", value=dt.date.today().replace(day=1))
        amount = st.number_input("Amount", min_value=0.0, step=100.0)
        currency = st.text_input("Currency", value="usd")
        channel = st.text_input("Channel (optional)")
        if st.form_submit_button("Save spend"):
            save(writer, [{"month": month.strftime("%Y-%m"), "amount": str(amount),
                           "currency": currency, "channel": channel}], "form")


def read_spend_csv(raw: bytes) -> list[dict]:
    """The uploaded rows as text; metrics.marketing_spend.save_marketing_spend validates each one."""
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same plain line
        raise ValueError("That file is not a readable CSV. " + CSV_HELP) from error
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = {"month", "amount", "currency"} - set(frame.columns)
    if missing:
        raise ValueError(f"The CSV has no {', '.join(sorted(missing))} column. " + CSV_HELP)
    return frame.to_dict("records")


def spend_upload(writer: tally_auth.User) -> None:
    st.markdown("**Upload a CSV**")
    upload = st.file_uploader("Marketing spend CSV", type=["csv"], help=CSV_HELP, key="spend_csv")
    if upload is None or not st.button("Import CSV", key="spend_import"):
        return
    try:
        rows = read_spend_csv(upload.getvalue())
    except ValueError as error:
        st.error(str(error))
        return
    save(writer, rows, "csv")


def save(writer: tally_auth.User, rows: list[dict], source: str) -> None:
    from metrics.common import MetricError
    from metrics.marketing_spend import save_marketing_spend
    try:
        audited_change(writer.label, "save_marketing_spend", "marketing_spend",
                       {"rows": len(rows), "source": source},
                       lambda: writes.write(published.db_path(),
                                            lambda con: save_marketing_spend(con, rows)))
    except (writes.Busy, MetricError, AuditUnavailable) as error:
        st.error(str(error))
        return
    layout.flash(f"Saved {len(rows)} row(s) of marketing spend.")
    st.rerun()
