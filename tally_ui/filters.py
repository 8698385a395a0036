"""Global controls (date range, currency, plan / interval / country / metadata filters).

They live in the sidebar, drawn by dashboard.py before the page runs, and are
mirrored in the URL query string so a view can be shared: on a session's first
run the URL seeds the widgets; after that the widgets rewrite the URL.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from metrics import segments
from metrics.params import Params
from tally_ui import published, segment_controls

START, END, CURRENCY, PLANS, INTERVALS, COUNTRIES = ("f_start", "f_end", "f_currency", "f_plans",
                                                     "f_intervals", "f_countries")
WHERE = segment_controls.WHERE  # metadata filters as `object.key=value` texts (the CLI's --where)
SWAPPED = "_f_range_swapped"
NATIVE = "native"
DEFAULT_MONTHS = 12


def month_label(month: dt.date) -> str:
    return month.strftime("%b %Y")


def parse_month(text: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(text or "", "%Y-%m").date()
    except ValueError:
        return None


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def choices() -> dict:
    """What the controls can offer, read from the published data."""
    taken = as_of().replace(day=1)  # no invoices (one-off charges only): the year up to "as of"
    first, last = published.data_months() or ((taken - dt.timedelta(days=365)).replace(day=1), taken)
    invoiced = published.query("""
        SELECT DISTINCT lower(currency) AS c FROM invoices WHERE currency IS NOT NULL""")["c"].tolist()
    # the shipped default rates convert every currency to USD
    currencies = sorted({*invoiced, *published.reporting_currencies(), "usd"})
    plans = published.query("""
        SELECT id, coalesce(name, id) AS name FROM products
        WHERE NOT coalesce(deleted, false) ORDER BY name""")
    intervals = published.query("""
        SELECT DISTINCT interval FROM prices WHERE interval IS NOT NULL ORDER BY 1""")
    countries = published.query("""
        SELECT DISTINCT country FROM customers WHERE country IS NOT NULL ORDER BY 1""")
    months = months_between(first, last)
    return {"months": months, "default_end": last_complete_month(months, as_of()),
            "currencies": currencies,
            "plans": dict(zip(plans["id"], plans["name"])),
            "intervals": intervals["interval"].tolist(),
            "countries": countries["country"].tolist(),
            "where": segment_controls.where_options()}


def as_of() -> dt.date:
    """When the data was taken: the last sync, the demo's clock (as the metrics see it), or today."""
    try:
        return published.as_of()
    except FileNotFoundError:  # nothing published yet
        return dt.date.today()


def last_complete_month(months: list[dt.date], today: dt.date) -> dt.date:
    """The default end of the range: a month still running would show half its renewals as churn."""
    complete = [m for m in months if (m + dt.timedelta(days=32)).replace(day=1) <= today]
    return complete[-1] if complete else months[-1]


def default_currency(currencies: list[str]) -> str:
    """One currency: show it as it is. Several: report in the main one (most invoices)."""
    main = published.main_currencies()
    if len(main) > 1 and main[0] in currencies:
        return main[0]
    return NATIVE


def default_range(options: dict, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last DEFAULT_MONTHS months up to `end` (default: the last complete month)."""
    months = options["months"]
    last: dt.date = end if end is not None and end in months else options["default_end"]
    return months[max(0, months.index(last) - DEFAULT_MONTHS + 1)], last


def default_params() -> Params:
    """What a visitor with a plain URL sees first (no session needed: the prefetch uses it)."""
    options = choices()
    start, end = default_range(options)
    currency = default_currency(options["currencies"])
    return Params(start=start, end=end, currency=None if currency == NATIVE else currency)


def _seed_from_url(options: dict) -> None:
    """First run of a session: the URL (or the defaults) sets the widgets.

    Also after a run that drew no sidebar (say, while a publish was being
    reopened): Streamlit then drops the widgets' keys, some or all of them.
    """
    if all(key in st.session_state for key in (START, END, CURRENCY, PLANS, INTERVALS, COUNTRIES, WHERE)):
        return
    url = st.query_params
    months = options["months"]
    start, end = parse_month(url.get("from")), parse_month(url.get("to"))
    first, end = default_range(options, end)
    st.session_state[START] = start if start in months else first  # a reversed pair is swapped below
    st.session_state[END] = end
    currency = (url.get("currency") or "").lower()
    allowed = [NATIVE] + options["currencies"]
    st.session_state[CURRENCY] = currency if currency in allowed else default_currency(options["currencies"])
    for key, name, allowed_values in ((PLANS, "plan", options["plans"]),
                                      (INTERVALS, "interval", options["intervals"]),
                                      (COUNTRIES, "country", options["countries"])):
        wanted = [v for v in (url.get(name) or "").split(",") if v]
        st.session_state[key] = [v for v in wanted if v in allowed_values]
    st.session_state[WHERE] = [v for v in url.get_all("where") if v in options["where"]]


def _keep_valid(options: dict) -> None:
    # After a sync the options can change; a stale value would make a widget fail.
    # Only a value that must change is written: a write makes the run send the
    # widget's value to the browser, which would undo a pick made during the run
    # (the freshness check reruns every few seconds).
    months = options["months"]
    if st.session_state[END] not in months:
        st.session_state[END] = options["default_end"]
    if st.session_state[START] not in months:
        end = months.index(st.session_state[END])
        st.session_state[START] = months[max(0, end - DEFAULT_MONTHS + 1)]
    elif st.session_state[START] > st.session_state[END]:
        # "From" after "To": swap them (and say so next to the controls) rather than drop the pick.
        st.session_state[START], st.session_state[END] = st.session_state[END], st.session_state[START]
        st.session_state[SWAPPED] = True
    if st.session_state[CURRENCY] not in [NATIVE] + options["currencies"]:
        st.session_state[CURRENCY] = NATIVE
    for key, allowed in ((PLANS, options["plans"]), (INTERVALS, options["intervals"]),
                         (COUNTRIES, options["countries"]), (WHERE, options["where"])):
        kept = [v for v in st.session_state[key] if v in allowed]
        if kept != st.session_state[key]:
            st.session_state[key] = kept


def sidebar() -> Params:
    """Draw the global controls and return the Params they describe."""
    options = choices()
    _seed_from_url(options)
    _keep_valid(options)
    with st.sidebar:
        months = options["months"][::-1]  # newest first: the usual pick
        left, right = st.columns(2)
        left.selectbox("From", months, key=START, format_func=month_label)
        right.selectbox("To", months, key=END, format_func=month_label)
        if st.session_state.pop(SWAPPED, False):
            st.warning(f"“From” was after “To”: swapped them, showing {month_label(st.session_state[START])} "
                       f"to {month_label(st.session_state[END])}.", icon=":material/swap_horiz:")
        st.selectbox("Currency", [NATIVE] + options["currencies"], key=CURRENCY,
                     format_func=lambda c: "Native currencies" if c == NATIVE else f"Report in {c.upper()}")
        with st.expander("Filters", expanded=bool(_active_filters())):
            st.multiselect("Plans", list(options["plans"]), key=PLANS,
                           format_func=lambda p: options["plans"].get(p, p))
            st.multiselect("Billing interval", options["intervals"], key=INTERVALS)
            st.multiselect("Country", options["countries"], key=COUNTRIES)
            segment_controls.draw(options["where"])
    _write_url()
    return current()


def _active_filters() -> list:
    return [v for key in (PLANS, INTERVALS, COUNTRIES, WHERE) for v in st.session_state.get(key, [])]


def current() -> Params:
    """The Params of the controls as they are now (defaults before the first draw)."""
    start, end = st.session_state.get(START), st.session_state.get(END)
    if start and end and start > end:  # a reversed pick means the same months
        start, end = end, start
    currency = st.session_state.get(CURRENCY, NATIVE)
    return Params(start=start, end=end, currency=None if currency == NATIVE else currency,
                  plans=tuple(st.session_state.get(PLANS, ())),
                  intervals=tuple(st.session_state.get(INTERVALS, ())),
                  countries=tuple(st.session_state.get(COUNTRIES, ())),
                  where=segments.parse_where(st.session_state.get(WHERE, ())))


def _write_url() -> None:
    start, end = st.session_state[START], st.session_state[END]
    wanted = {"from": start.strftime("%Y-%m"), "to": end.strftime("%Y-%m"),
              "currency": st.session_state[CURRENCY],
              "plan": ",".join(st.session_state[PLANS]),
              "interval": ",".join(st.session_state[INTERVALS]),
              "country": ",".join(st.session_state[COUNTRIES])}
    for name, value in wanted.items():
        if value and st.query_params.get(name) != value:
            st.query_params[name] = value
        elif not value and name in st.query_params:
            del st.query_params[name]
    where = list(st.session_state[WHERE])  # repeated: ?where=channel%3Dpartner&where=...
    if where and st.query_params.get_all("where") != where:
        st.query_params["where"] = where
    elif not where and "where" in st.query_params:
        del st.query_params["where"]
