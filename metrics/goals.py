"""Goals: an MRR or ARR target for the end of a month, and the pace needed to reach it.

A goal is (metric mrr|arr, target in minor units of `currency`, start month,
target month), entered in the dashboard and kept in the `goals` table beside
the synced data. One goal per metric and currency: a new one replaces it.

Pace: compound. The pace line starts at the actual value at the end of the
start month and grows by the same percentage every month to reach the target
at the end of the target month: pace(k) = start x (target / start)^(k / n).
Why compound: recurring revenue grows by compounding (new MRR scales with the
base: more customers bring more referrals, expansions scale with MRR), and
founders state growth as "x% a month"; a straight line would ask for most of
the growth in the first months and make a healthy ramp look behind. When the
start value is 0 (or either end is not above 0) there is no growth rate, and
the pace is a straight line from start to target.

Actual values are the whole business in the goal's currency (other currencies
converted at the fx_rates rates, as `mrr` with a reporting currency): the
dashboard's plan, interval and country filters do not apply to a goal.
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

import pandas as pd

from metrics.common import MetricError, add_months, data_months, first_of_month, has_table, this_month
from metrics.currency import exponent
from metrics.fx import RateBook
from metrics.mrr.by_month import mrr
from metrics.params import Params
from metrics.registry import metric

KINDS = {"mrr": "MRR", "arr": "ARR"}
GOAL_COLUMNS = ["goal_id", "metric", "currency", "target", "start_month", "target_month",
                "created_at", "created_by"]
PROGRESS_COLUMNS = ["goal_id", "metric", "currency", "month", "target", "pace", "actual", "gap", "status"]


def clean_goal(kind, target, currency, start_month, target_month, today: dt.date | None = None) -> tuple:
    """(metric, target in minor units, currency, start month, target month), or MetricError in plain words."""
    kind = str(kind or "").strip().lower()
    if kind not in KINDS:
        raise MetricError("Pick MRR or ARR for the goal.")
    currency = str(currency or "").strip().lower()
    if len(currency) != 3 or not currency.isalpha():
        raise MetricError("The currency must be a 3-letter code like usd or eur.")
    try:
        major = Decimal(str(target).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise MetricError("The target must be an amount like 100000 or 12500.50.") from None
    if not major.is_finite() or major <= 0:
        raise MetricError("The target must be an amount above 0.")
    minor = int((major * (Decimal(10) ** exponent(currency))).to_integral_value())
    start, end = _month(start_month, "start month"), _month(target_month, "goal's month")
    now = first_of_month(today) if today else this_month()
    if end < now:
        raise MetricError(f"The goal's month ({end:%b %Y}) is in the past: pick {now:%b %Y} or later.")
    if start >= end:
        raise MetricError("The start month must come before the goal's month.")
    return kind, minor, currency, start, end


def _month(value, what: str) -> dt.date:
    try:
        if isinstance(value, str):
            return dt.datetime.strptime(value.strip()[:7], "%Y-%m").date()
        return pd.Timestamp(value).date().replace(day=1)
    except (ValueError, TypeError):
        raise MetricError(f"The {what} must be a month like 2027-06.") from None


# Metrics own this table: created with the first goal, read as empty before. `target` is
# in minor units of `currency`, for the end of `target_month`, paced from `start_month`.
GOALS_DDL = """CREATE TABLE IF NOT EXISTS goals (
    goal_id VARCHAR, metric VARCHAR, currency VARCHAR, target BIGINT,
    start_month DATE, target_month DATE, created_at TIMESTAMP, created_by VARCHAR)"""


def save_goal(con, goal: tuple, author: str) -> str:
    """Store a goal from clean_goal (inside the caller's transaction), replacing
    the goal for the same metric and currency; returns its id."""
    kind, target, currency, start, end = goal
    _check_rates(con, currency, start)
    goal_id = f"goal_{uuid.uuid4().hex[:12]}"
    con.execute(GOALS_DDL)
    con.execute("DELETE FROM goals WHERE metric = ? AND currency = ?", [kind, currency])
    con.execute("INSERT INTO goals (goal_id, metric, currency, target, start_month, target_month, "
                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [goal_id, kind, currency, target, start, end, dt.datetime.now(dt.UTC).replace(tzinfo=None),
                 author])
    return goal_id


def _check_rates(con, currency: str, month: dt.date) -> None:
    """Refuse a goal in a currency the account's revenue cannot be converted to (it could never be tracked)."""
    book = RateBook(con)
    for (code,) in con.execute("SELECT DISTINCT lower(currency) FROM invoices WHERE currency IS NOT NULL").fetchall():
        try:
            book.rate(code, currency, month)
        except MetricError:
            raise MetricError(f"Tally has no exchange rate from {code.upper()} to {currency.upper()}: add one "
                              "on the Data & export page, or set the goal in another currency.") from None


def delete_goal(con, goal_id: str) -> None:
    con.execute(GOALS_DDL)
    gone = con.execute("DELETE FROM goals WHERE goal_id = ? RETURNING goal_id", [goal_id]).fetchall()
    if not gone:
        raise MetricError("That goal no longer exists (someone removed it already).")


@metric("goals", "MRR and ARR goals: target, currency, start month and target month", money=("target",))
def goals(con, params: Params) -> pd.DataFrame:
    """Every goal, newest target month first. Filters do not apply."""
    if not has_table(con, "goals"):  # no goal saved yet
        return pd.DataFrame({c: pd.Series(dtype="object") for c in GOAL_COLUMNS})
    return con.execute(f"SELECT {', '.join(GOAL_COLUMNS)} FROM goals "
                       "ORDER BY target_month DESC, metric, currency").df()


@metric("goal_progress", "Each goal month by month: the pace needed (compound), the actual value, "
        "the gap and on track / behind", money=("target", "pace", "actual", "gap"))
def goal_progress(con, params: Params) -> pd.DataFrame:
    """One row per goal and month from its start month to its target month.

    pace: the value needed at that month end (compound, see the module docstring);
    actual: the whole business's MRR (or ARR) in the goal's currency, empty for
    months not reached yet; gap = actual - pace; status: "on track" (gap >= 0) or "behind".
    """
    rows = [progress_of(con, goal) for goal in goals(con, params).itertuples(index=False)]
    rows = [r for r in rows if not r.empty]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROGRESS_COLUMNS})
    return pd.concat(rows, ignore_index=True)[PROGRESS_COLUMNS]


def progress_of(con, goal) -> pd.DataFrame:
    start, end = _date(goal.start_month), _date(goal.target_month)
    months = [add_months(start, k) for k in range(_months_between(start, end) + 1)]
    actual = _actual(con, goal.metric, goal.currency, start, end)
    baseline = _baseline(actual, start)
    pace = [pace_at(baseline, float(goal.target), k, len(months) - 1) for k in range(len(months))]
    frame = pd.DataFrame({"goal_id": goal.goal_id, "metric": goal.metric, "currency": goal.currency,
                          "month": months, "target": float(goal.target), "pace": pace})
    frame["actual"] = frame["month"].map(actual).astype("float64")
    frame["gap"] = frame["actual"] - frame["pace"]
    frame["status"] = frame["gap"].map(lambda gap: None if pd.isna(gap) else
                                       ("on track" if gap >= 0 else "behind"))
    return frame


def pace_at(start: float, target: float, k: int, n: int) -> float:
    """The value needed k months after the start month to reach `target` n months after it."""
    if n <= 0:
        return target
    if start > 0 and target > 0:
        return start * (target / start) ** (k / n)
    return start + (target - start) * k / n


def _actual(con, kind: str, currency: str, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """Month -> the whole business's MRR or ARR in `currency`, for the months the data reaches."""
    span = data_months(con)
    if span is None:
        return {}
    first, last = min(start, span[1]), min(end, span[1])  # a start after the data: the newest value
    frame = mrr(con, Params(start=first, end=last, currency=currency))
    return {_date(m): float(v) for m, v in zip(frame["month"], frame[kind]) if not pd.isna(v)}


def _baseline(actual: dict[dt.date, float], start: dt.date) -> float:
    """The value at the end of the start month, or the newest one before it; 0 without data."""
    if start in actual:
        return actual[start]
    earlier = [m for m in actual if m <= start]
    return actual[max(earlier)] if earlier else 0.0


def status_at(progress: pd.DataFrame, goal_id: str, end: dt.date) -> dict | None:
    """The goal's newest month with an actual value, at or before `end` (the page's last month)."""
    rows = progress[(progress["goal_id"] == goal_id) & progress["actual"].notna()]
    rows = rows[pd.to_datetime(rows["month"]) <= pd.Timestamp(end)]
    if rows.empty:
        return None
    row = rows.sort_values("month").iloc[-1]
    return dict(month=_date(row["month"]), actual=float(row["actual"]), pace=float(row["pace"]),
                gap=float(row["gap"]), on_track=bool(row["gap"] >= 0))


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month
