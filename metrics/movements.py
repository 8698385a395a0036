"""MRR movements (new, reactivation, expansion, contraction, churn, fx) per
customer and month, their monthly totals, and a drill-down into one month.

Movements are classified on native-currency MRR, so a rate change is never an
expansion; in a reporting currency they are valued at the end-of-month rate
and `fx = p x (rate_end - rate_start)` closes the identity.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics import fx
from metrics.common import MetricError, add_months, frame, month_range, sql_date, sql_text
from metrics.mrr import stage_cache
from metrics.mrr.chain_sql import line_filters
from metrics.mrr.points import chain_sql, cursor_for, full_history_first, months_between
from metrics.params import Params
from metrics.registry import metric

MOVEMENTS = ("new", "reactivation", "expansion", "contraction", "churn")


def customer_movements_sql(cur, params: Params, last: dt.date) -> str:
    """`WITH ... customer_movements(customer_id, currency, month, start_mrr, end_mrr,
    movement, new, reactivation, expansion, contraction, churn, fx)`.

    Built on full history (a reactivation needs to know the past); one row per
    customer, currency and month in which MRR at the start or end is positive.
    """
    native = chain_sql(cur, params, last, movements=True)
    if not params.currency:
        return native + ",\ncustomer_movements AS (SELECT * FROM native_movements)"
    return native + f""",
customer_movements AS (
    SELECT m.customer_id, {sql_text(params.currency.lower())} AS currency, m.month,
           m.start_mrr * f0.factor AS start_mrr, m.end_mrr * f1.factor AS end_mrr, m.movement,
           m.new * f1.factor AS new, m.reactivation * f1.factor AS reactivation,
           m.expansion * f1.factor AS expansion, m.contraction * f1.factor AS contraction,
           m.churn * f1.factor AS churn, m.start_mrr * (f1.factor - f0.factor) AS fx
    FROM native_movements m
    JOIN fx_factors f1 ON f1.currency = m.currency AND f1.month = m.month
    JOIN fx_factors f0 ON f0.currency = m.currency AND f0.month = (m.month - INTERVAL 1 MONTH)::DATE
)"""


def movements_cursor(con, params: Params):
    """(cursor, first, last): a cursor with the rates customer_movements_sql needs."""
    span = month_range(con, params)
    if span is None:
        return None
    first, last = span
    full_first = con.execute("SELECT min(period_start)::DATE FROM invoice_lines").fetchall()[0][0]
    full_first = min(full_first.replace(day=1), first) if full_first else first
    return cursor_for(con, params, full_first, last), first, last


MOVEMENT_COLUMNS = ["month", "currency", "start_mrr", "new", "reactivation", "expansion",
                    "contraction", "churn", "fx", "end_mrr", "new_customers",
                    "reactivated_customers", "churned_customers", "new_and_churned_in_month"]


TWELVE_COLUMNS = ["base", "kept", "kept_capped"]


def twelve_month_cte(first: dt.date, last: dt.date) -> str:
    """Customers positive 12 months before M: their MRR then and at M (capped for GRR)."""
    return f"""twelve AS (
    SELECT (b.period + INTERVAL 12 MONTH)::DATE AS month, b.currency,
           sum(b.mrr) AS base, sum(coalesce(n.mrr, 0)) AS kept,
           sum(least(coalesce(n.mrr, 0), b.mrr)) AS kept_capped
    FROM customer_points b
    LEFT JOIN customer_points n ON n.customer_id = b.customer_id AND n.currency = b.currency
     AND n.period = (b.period + INTERVAL 12 MONTH)::DATE
    WHERE (b.period + INTERVAL 12 MONTH)::DATE BETWEEN {sql_date(first)} AND {sql_date(last)}
    GROUP BY ALL
)"""


def _native_totals(cur, params: Params, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Per month and native currency: movement sums, customer counts at both ends,
    customers new and churned inside the month, and the 12-month base/kept MRR."""
    totals = cur.execute(native_totals_sql(chain_sql(cur, params, last, movements=True),
                                           first, last, params)).df()
    totals["month"] = pd.to_datetime(totals["month"])
    return totals


def native_totals_sql(chain: str, first: dt.date, last: dt.date, params: Params | None = None) -> str:
    """The totals query on `chain` (`WITH valued, customer_points, native_movements`),
    whose lines `params`' plan and interval filters also pick."""
    return chain + f""",
{_new_and_churned_cte(first, last, line_filters(params) if params else "")},
totals AS (
    SELECT month, currency, sum(start_mrr) AS start_mrr, sum(new) AS new,
           sum(reactivation) AS reactivation, sum(expansion) AS expansion,
           sum(contraction) AS contraction, sum(churn) AS churn, 0.0 AS fx,
           sum(end_mrr) AS end_mrr,
           count(*) FILTER (start_mrr > 0) AS start_customers,
           count(*) FILTER (end_mrr > 0) AS end_customers,
           count(*) FILTER (movement = 'new') AS new_customers,
           count(*) FILTER (movement = 'reactivation') AS reactivated_customers,
           count(*) FILTER (movement = 'churn') AS churned_customers
    FROM (SELECT month, currency, start_mrr, new, reactivation, expansion, contraction, churn,
                 end_mrr, movement
          FROM native_movements
          WHERE month BETWEEN {sql_date(first)} AND {sql_date(last)}
          -- a month whose only customers started and stopped inside it still has a row
          UNION ALL
          SELECT month, currency, 0, 0, 0, 0, 0, 0, 0, NULL FROM new_and_churned)
    GROUP BY month, currency
),
{twelve_month_cte(first, last)}
SELECT t.*, coalesce(n.customers, 0) AS new_and_churned_in_month, w.base, w.kept, w.kept_capped
FROM totals t LEFT JOIN new_and_churned n USING (month, currency)
LEFT JOIN twelve w USING (month, currency)
ORDER BY month, currency"""


def _totals_for(con, params: Params, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Native totals for [first, last]: from the cache (whole history, once per
    database version and filters) when the database is a file."""
    cur = con.cursor()
    tables = stage_cache.monthly_tables(cur, params, last, None)
    if tables is None:
        return _native_totals(cur, params, first, last)
    if "totals" not in tables:
        history = full_history_first(cur) or first
        tables["totals"] = _native_totals(cur, params, min(history, first), tables["through"])
    totals = tables["totals"]
    keep = (totals["month"] >= pd.Timestamp(first)) & (totals["month"] <= pd.Timestamp(last))
    return totals[keep].reset_index(drop=True)


def _reported(con, totals: pd.DataFrame, reporting: str) -> pd.DataFrame:
    """Totals in a reporting currency: each currency's movements at the end-of-month
    rate, its start at the previous month's rate, and fx = start x (rate_end - rate_start).
    Customer counts add up across currencies."""
    if totals.empty:
        return totals
    months = months_between(add_months(totals["month"].min().date(), -1), totals["month"].max().date())
    rates = fx.factors(con, sorted(totals["currency"].unique()), months, reporting)
    rates["month"] = pd.to_datetime(rates["month"])
    df = totals.merge(rates.rename(columns={"factor": "f1"}), on=["currency", "month"])
    earlier = rates.assign(month=rates["month"] + pd.DateOffset(months=1))
    df = df.merge(earlier.rename(columns={"factor": "f0"}), on=["currency", "month"])
    df["fx"] = df["start_mrr"] * (df["f1"] - df["f0"])
    df["start_mrr"] = df["start_mrr"] * df["f0"]
    for column in ["new", "reactivation", "expansion", "contraction", "churn", "end_mrr"] + TWELVE_COLUMNS:
        df[column] = df[column] * df["f1"]
    df = df.drop(columns=["currency", "f0", "f1"]).groupby("month", as_index=False).sum(min_count=1)
    df.insert(1, "currency", reporting)
    return df


def movement_totals(con, params: Params) -> pd.DataFrame | None:
    """Per month and currency (or the reporting currency): movement sums, customer
    counts, new-and-churned customers and the 12-month base/kept MRR.
    Churn, LTV, CAC and the forecast all start here."""
    span = month_range(con, params)
    if span is None:
        return None
    first, last = span
    native = Params(**{**params.__dict__, "currency": None})
    totals = _totals_for(con, native, first, last)
    if params.currency:
        totals = _reported(con, totals, params.currency.lower())
    return totals


@metric("mrr_movements",
        "MRR movements per month: new, reactivation, expansion, contraction, churn, fx",
        money=("start_mrr", "new", "reactivation", "expansion", "contraction", "churn", "fx",
               "end_mrr"))
def mrr_movements(con, params: Params) -> pd.DataFrame:
    totals = movement_totals(con, params)
    if totals is None or totals.empty:
        return frame(con, "SELECT 1 WHERE false", MOVEMENT_COLUMNS)
    return totals[MOVEMENT_COLUMNS].reset_index(drop=True)


def _new_and_churned_cte(first: dt.date, last: dt.date, filters: str = "") -> str:
    """Customers billed for a period that began in M and stopped counting (period
    end or cancellation) inside M, with no MRR at the end of M-1 nor of M: they
    are in no movement. Short lines are few, so they are picked first."""
    return f"""short_lines AS (
    SELECT customer_id, currency, date_trunc('month', period_start)::DATE AS month
    FROM valued v
    WHERE monthly > 0
      AND date_trunc('month', counts_until - INTERVAL 1 SECOND) = date_trunc('month', period_start)
      AND date_trunc('month', period_start)::DATE BETWEEN {sql_date(first)} AND {sql_date(last)}
      {filters}
),
new_and_churned AS (
    SELECT v.month, v.currency, count(DISTINCT v.customer_id) AS customers
    FROM short_lines v
    WHERE NOT EXISTS (
          SELECT 1 FROM customer_points cp WHERE cp.customer_id = v.customer_id
             AND cp.period IN (v.month, (v.month - INTERVAL 1 MONTH)::DATE))
    GROUP BY ALL
)"""


def _month_param(params: Params, key: str = "month") -> dt.date:
    value = params.extra.get(key)
    if value is None:
        raise MetricError(f"this metric needs a {key} (YYYY-MM)")
    if isinstance(value, str):
        try:
            return dt.datetime.strptime(value[:7], "%Y-%m").date()
        except ValueError:
            raise MetricError(f"bad month {value!r}: use YYYY-MM") from None
    return value.replace(day=1)


DRILLDOWN_COLUMNS = ["month", "customer_id", "customer_name", "customer_email", "currency",
                     "movement", "customer_start_mrr", "customer_end_mrr", "movement_amount",
                     "subscription_id", "subscription_start_mrr", "subscription_end_mrr"]


@metric("mrr_drilldown",
        "One month (extra month=YYYY-MM): each customer and subscription in its MRR and movements",
        money=("customer_start_mrr", "customer_end_mrr", "movement_amount",
               "subscription_start_mrr", "subscription_end_mrr"))
def mrr_drilldown(con, params: Params) -> pd.DataFrame:
    month = _month_param(params)
    cur = cursor_for(con, params, add_months(month, -1), month)
    convert = "f.factor" if params.currency else "1"
    fx_join = ("JOIN fx_factors f ON f.currency = sp.currency AND f.month = sp.period"
               if params.currency else "")
    scoped = Params(**{**params.__dict__, "start": None, "end": month})
    sql = customer_movements_sql(cur, scoped, month) + f""",
subs AS (
    SELECT sp.subscription_id, sp.customer_id, sp.currency AS native_currency,
           sum(sp.mrr * {convert}) FILTER (sp.period = {sql_date(add_months(month, -1))}) AS s0,
           sum(sp.mrr * {convert}) FILTER (sp.period = {sql_date(month)}) AS s1
    FROM sub_points sp {fx_join}
    WHERE sp.period IN ({sql_date(add_months(month, -1))}, {sql_date(month)})
    GROUP BY ALL
)
SELECT m.month, m.customer_id, cu.name AS customer_name, cu.email AS customer_email,
       m.currency, coalesce(m.movement, 'unchanged') AS movement,
       m.start_mrr AS customer_start_mrr, m.end_mrr AS customer_end_mrr,
       m.new + m.reactivation + m.expansion + m.contraction + m.churn AS movement_amount,
       s.subscription_id, coalesce(s.s0, 0) AS subscription_start_mrr,
       coalesce(s.s1, 0) AS subscription_end_mrr
FROM customer_movements m
LEFT JOIN subs s ON s.customer_id = m.customer_id
 AND {"true" if params.currency else "s.native_currency = m.currency"}
LEFT JOIN customers cu ON cu.id = m.customer_id
WHERE m.month = {sql_date(month)}
ORDER BY movement, movement_amount DESC, customer_id, subscription_id"""
    return frame(cur, sql, DRILLDOWN_COLUMNS)


TIMELINE_COLUMNS = ["month", "currency", "mrr", "movement", "movement_amount"]


@metric("customer_timeline",
        "One customer's MRR and movement each month (extra customer_id=cus_...)",
        money=("mrr", "movement_amount"))
def customer_timeline(con, params: Params) -> pd.DataFrame:
    customer_id = params.extra.get("customer_id")
    if not customer_id:
        raise MetricError("this metric needs a customer_id")
    ready = movements_cursor(con, params)
    if ready is None:
        return frame(con, "SELECT 1 WHERE false", TIMELINE_COLUMNS)
    cur, first, last = ready
    sql = customer_movements_sql(cur, params, last) + f"""
SELECT month, currency, end_mrr AS mrr, coalesce(movement, 'unchanged') AS movement,
       new + reactivation + expansion + contraction + churn AS movement_amount
FROM customer_movements
WHERE customer_id = {sql_text(customer_id)}
  AND month BETWEEN {sql_date(first)} AND {sql_date(last)}
ORDER BY month, currency"""
    return frame(cur, sql, TIMELINE_COLUMNS)
