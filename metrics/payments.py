"""Cash metrics from charges, refunds, disputes and balance transactions:
success rate, failures, gross volume, refunds, disputes, fees, net revenue, fraud."""
from __future__ import annotations

import pandas as pd

from metrics.cash import between, created_range, grain, kept, kept_source, with_filters
from metrics.common import frame, live_only, ratio
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric


def _empty(columns):
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def _bucket(params: Params, column: str = "created") -> str:
    return f"date_trunc('{grain(params)}', {column})::DATE"


def _by_period(con, params: Params, table: str, columns: list[str], sql: str, keeps: tuple,
               money: tuple = (), keys: tuple = ()) -> pd.DataFrame:
    """Run `sql` grouped by period over `table`'s created window (empty when it has no rows).

    `sql` holds {period} (the bucket AS the grain column) and {where} (live rows in the window
    the filters keep, by the columns `keeps` names for kept()); `money` columns are converted
    with `keys` as the rest of the group."""
    g = grain(params)
    bounds = created_range(con, params, table)
    if bounds is None:
        return _empty([g] + columns)
    where = f"{live_only(table)} AND {between('created', bounds)} {kept(params, *keeps)}"
    df = frame(con, with_filters(params, sql.format(period=f'{_bucket(params)} AS "{g}"', where=where)),
               [g] + columns)
    if not money:
        return df
    return convert_frame(con, df, params, list(money), [g, *keys], g)


PAYMENT_COLUMNS = ["currency", "charges", "succeeded", "failed", "success_rate",
                   "succeeded_amount", "failed_amount", "amount_success_rate", "gross_volume",
                   "refunds", "refund_rate", "disputes", "disputed_amount", "dispute_rate",
                   "lost_disputes", "fees", "net_revenue"]
PAYMENT_MONEY = ("succeeded_amount", "failed_amount", "gross_volume", "refunds",
                 "disputed_amount", "lost_disputes", "fees", "net_revenue")


@metric("payments", "Charges, success rate, gross volume, refunds, disputes, fees and net revenue",
        money=PAYMENT_MONEY)
def payments(con, params: Params) -> pd.DataFrame:
    g = grain(params)
    columns = [g] + PAYMENT_COLUMNS
    bounds = created_range(con, params, "charges")
    if bounds is None:
        return _empty(columns)
    b = _bucket(params)
    sql = f"""
WITH charged AS (
    SELECT {b} AS period, lower(currency) AS currency,
           count(*) FILTER (status IN ('succeeded', 'failed')) AS charges,
           count(*) FILTER (status = 'succeeded') AS succeeded,
           count(*) FILTER (status = 'failed') AS failed,
           coalesce(sum(amount) FILTER (status = 'succeeded'), 0) AS succeeded_amount,
           coalesce(sum(amount) FILTER (status = 'failed'), 0) AS failed_amount
    FROM charges WHERE {live_only('charges')} AND {between('created', bounds)} {kept(params, 'id')}
    GROUP BY ALL
),
refunded AS (
    SELECT {b} AS period, lower(currency) AS currency, sum(amount) AS refunds
    FROM refunds WHERE status = 'succeeded' AND {live_only('refunds')} AND {between('created', bounds)}
      {kept(params, 'charge_id', 'payment_intent_id')}
    GROUP BY ALL
),
disputed AS (
    SELECT {b} AS period, lower(currency) AS currency, count(*) AS disputes,
           sum(amount) AS disputed_amount,
           coalesce(sum(amount) FILTER (status = 'lost'), 0) AS lost_disputes
    FROM disputes WHERE {live_only('disputes')} AND {between('created', bounds)}
      {kept(params, 'charge_id', 'payment_intent_id')}
    GROUP BY ALL
),
charged_fees AS (
    SELECT {b} AS period, lower(currency) AS currency, sum(fee) AS fees
    FROM balance_transactions WHERE {live_only('balance_transactions')} AND {between('created', bounds)}
      {kept_source(params)}
    GROUP BY ALL
),
periods AS (
    SELECT period, currency FROM charged UNION SELECT period, currency FROM refunded
    UNION SELECT period, currency FROM disputed UNION SELECT period, currency FROM charged_fees
)
SELECT p.period AS "{g}", p.currency,
       coalesce(c.charges, 0) AS charges, coalesce(c.succeeded, 0) AS succeeded,
       coalesce(c.failed, 0) AS failed, coalesce(c.succeeded_amount, 0) AS succeeded_amount,
       coalesce(c.failed_amount, 0) AS failed_amount,
       coalesce(c.succeeded_amount, 0) AS gross_volume, coalesce(r.refunds, 0) AS refunds,
       coalesce(d.disputes, 0) AS disputes, coalesce(d.disputed_amount, 0) AS disputed_amount,
       coalesce(d.lost_disputes, 0) AS lost_disputes, coalesce(f.fees, 0) AS fees
FROM periods p
LEFT JOIN charged c USING (period, currency) LEFT JOIN refunded r USING (period, currency)
LEFT JOIN disputed d USING (period, currency) LEFT JOIN charged_fees f USING (period, currency)
ORDER BY 1, 2"""
    df = con.execute(with_filters(params, sql)).df()
    if df.empty:
        return _empty(columns)
    df = convert_frame(con, df, params, [m for m in PAYMENT_MONEY if m != "net_revenue"],
                       [g, "currency"], g)
    df["success_rate"] = ratio(df["succeeded"], df["succeeded"] + df["failed"])
    df["amount_success_rate"] = ratio(df["succeeded_amount"],
                                      df["succeeded_amount"] + df["failed_amount"])
    df["refund_rate"] = ratio(df["refunds"], df["gross_volume"])
    df["dispute_rate"] = ratio(df["disputes"], df["succeeded"])
    df["net_revenue"] = df["gross_volume"] - df["refunds"] - df["lost_disputes"] - df["fees"]
    return df[columns].reset_index(drop=True)


FAILURE_COLUMNS = ["currency", "failure_code", "outcome_type", "outcome_reason",
                   "failed", "failed_amount"]


@metric("payment_failures", "Failed charges by failure code and outcome type / reason",
        money=("failed_amount",))
def payment_failures(con, params: Params) -> pd.DataFrame:
    return _by_period(con, params, "charges", FAILURE_COLUMNS, """
SELECT {period}, lower(currency) AS currency,
       coalesce(failure_code, 'unknown') AS failure_code,
       coalesce(outcome_type, 'unknown') AS outcome_type,
       coalesce(outcome_reason, 'none') AS outcome_reason,
       count(*) AS failed, sum(amount) AS failed_amount
FROM charges
WHERE status = 'failed' AND {where}
GROUP BY ALL ORDER BY 1, 2, failed DESC""", ("id",), money=("failed_amount",),
                      keys=("currency", "failure_code", "outcome_type", "outcome_reason"))


FRAUD_COLUMNS = ["currency", "risk_level", "outcome_type", "charges", "amount"]


@metric("fraud", "Charges by Radar risk level and outcome type (authorized, blocked, manual_review)",
        money=("amount",))
def fraud(con, params: Params) -> pd.DataFrame:
    return _by_period(con, params, "charges", FRAUD_COLUMNS, """
SELECT {period}, lower(currency) AS currency,
       coalesce(risk_level, 'not_assessed') AS risk_level,
       coalesce(outcome_type, 'unknown') AS outcome_type,
       count(*) AS charges, sum(amount) AS amount
FROM charges WHERE {where}
GROUP BY ALL ORDER BY 1, 2, 3, 4""", ("id",), money=("amount",),
                      keys=("currency", "risk_level", "outcome_type"))


DISPUTE_COLUMNS = ["currency", "reason", "disputes", "amount", "won", "lost", "open"]


@metric("disputes_by_reason", "Disputes by reason: count, amount, won, lost, still open",
        money=("amount",))
def disputes_by_reason(con, params: Params) -> pd.DataFrame:
    return _by_period(con, params, "disputes", DISPUTE_COLUMNS, """
SELECT {period}, lower(currency) AS currency,
       coalesce(reason, 'unknown') AS reason, count(*) AS disputes, sum(amount) AS amount,
       count(*) FILTER (status = 'won') AS won, count(*) FILTER (status = 'lost') AS lost,
       count(*) FILTER (status NOT IN ('won', 'lost')) AS open
FROM disputes WHERE {where}
GROUP BY ALL ORDER BY 1, 2, disputes DESC""", ("charge_id", "payment_intent_id"),
                      money=("amount",), keys=("currency", "reason"))


@metric("early_fraud_warnings", "Radar early fraud warnings by fraud type")
def early_fraud_warnings(con, params: Params) -> pd.DataFrame:
    return _by_period(con, params, "early_fraud_warnings", ["fraud_type", "warnings", "actionable"], """
SELECT {period}, coalesce(fraud_type, 'unknown') AS fraud_type,
       count(*) AS warnings, count(*) FILTER (actionable) AS actionable
FROM early_fraud_warnings
WHERE {where}
GROUP BY ALL ORDER BY 1, warnings DESC""", ("charge_id", "payment_intent_id"))
