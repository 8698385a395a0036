"""Data & export: every metric and every synced table as CSV.

Exports go through tally_ui.export (money in major units, formula cells
neutralised); Streamlit's own table download is off (.streamlit/config.toml)
so nothing bypasses that. The CSV is built only when the button is clicked.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

import tally_auth
from metrics import fx_rates_input
from metrics.params import Params
from metrics.tables import EXPORT_TABLES
from tally_admin.data_changes import audited_change
from tally_ui import export, layout, published, widgets, writes


def data_export_page() -> None:
    params = layout.header("Data & export", "CSV files: money in major units, text that a spreadsheet "
                                            "would run as a formula is prefixed with an apostrophe.")
    if params is None:
        return
    metric_export(params)
    table_export()
    exchange_rates()


def metric_export(params) -> None:
    st.subheader("Metrics")
    names = published.metric_names()
    if not names:
        st.info("No metrics are available in this version of Tally.")
        return
    name = st.selectbox("Metric", names, key="export_metric", index=names.index("mrr") if "mrr" in names else 0)
    params = with_extra(name, params)
    if params is None:
        return
    frame = widgets.metric_frame(name, params, empty="This metric has no rows for the current view.")
    if frame is None:
        return
    st.caption(f"{len(frame):,} rows for the current date range, currency and filters.")
    widgets.table(frame.head(100), published.money_columns(name), height=240)
    # the same bytes as `python -m metrics export` with these parameters
    st.download_button(f"Download {name}.csv", lambda: export.metric_csv(name, frame),
                       file_name=f"{name}.csv", mime="text/csv", key="export_metric_csv",
                       on_click="ignore", icon=":material/download:")


def with_extra(name: str, params):
    """The one-off inputs two metrics need: the month to drill into, the customer to follow."""
    if name == "mrr_drilldown":
        st.caption(f"Customers behind the MRR of {params.end:%B %Y} (the end of the date range).")
        return dataclasses.replace(params, extra={"month": params.end})
    if name == "cohort_customers":
        st.caption(f"Customers of the {params.start:%B %Y} cohort (the start of the date range).")
        return dataclasses.replace(params, extra={"cohort": params.start})
    if name.startswith("customer_"):  # customer_timeline and the page per customer's blocks
        customer = st.text_input("Customer id (cus_...)", key="export_customer").strip()
        return dataclasses.replace(params, extra={"customer_id": customer}) if customer else None
    return params


def table_export() -> None:
    st.subheader("Synced tables")
    tables = widgets.metric_frame("table_rows", Params())  # the tables holding rows
    rows = {} if tables is None else dict(zip(tables["table"], tables["rows"]))
    name = st.selectbox("Table", EXPORT_TABLES, key="export_table")
    st.caption(f"{rows.get(name, 0):,} rows. Amounts as Stripe stores them: integer minor units (cents) "
               "beside a currency column.")
    db, version = published.db_path(), published.version()

    def build() -> bytes:
        return export.csv_bytes(published.table_frame(db, version, name))

    st.download_button(f"Download {name}.csv", build, file_name=f"{name}.csv", mime="text/csv",
                       key="export_table_csv", on_click="ignore", icon=":material/download:")


FX_COLUMNS = {"month": st.column_config.DateColumn("Month", format="YYYY-MM"), "currency": "Currency",
              "reporting_currency": "Reporting currency", "rate": st.column_config.NumberColumn("Rate", format="%.6f")}


def exchange_rates() -> None:
    st.subheader("Exchange rates")
    st.caption("Used when you report in one currency. A row says 1 unit of *currency* is worth *rate* units of "
               "*reporting currency* from *month* on (no month: always). Tally ships approximate rates to USD "
               "for common currencies; rows here take precedence.")
    stored = published.metric("exchange_rates", Params())
    writer = tally_auth.data_writer()
    if writer is None:  # a viewer: the same rates, read-only
        st.dataframe(stored, hide_index=True, key="fx_table", column_config=FX_COLUMNS)
        st.caption(tally_auth.READ_ONLY_NOTE)
    else:
        edited = st.data_editor(stored, num_rows="dynamic", hide_index=True, key="fx_editor", column_config={
            "month": st.column_config.DateColumn("Month", format="YYYY-MM"),
            "currency": st.column_config.TextColumn("Currency", max_chars=3),
            "reporting_currency": st.column_config.TextColumn("Reporting currency", max_chars=3),
            "rate": st.column_config.NumberColumn("Rate", min_value=0.0, format="%.6f")})
    with st.expander("Shipped default rates (1 unit in USD)"):
        from metrics.fx import DEFAULT_RATES_TO_USD
        st.dataframe(pd.DataFrame(sorted(DEFAULT_RATES_TO_USD.items()), columns=["currency", "usd"]),
                     hide_index=True, height=240,
                     column_config={"currency": "Currency",
                                    "usd": st.column_config.NumberColumn("In USD", format="%.6f")})
    if writer is None or not st.button("Save exchange rates", key="fx_save"):
        return
    try:
        rows = fx_rates_input.clean_rates(edited)
        audited_change(writer.label, "save_exchange_rates", "fx_rates", {"rows": len(rows)},
                       lambda: writes.write(published.db_path(), lambda con: fx_rates_input.replace_rates(con, rows)))
    except (ValueError, writes.Busy) as error:
        st.error(str(error))
        return
    layout.flash(f"Saved {len(rows)} exchange rate(s).")
    st.rerun()
