"""Goals and annotations in the dashboard: who may change them, the audited writes,
and what the Overview and MRR charts draw of them.

The rules and the tables are metrics/goals.py and metrics/annotations.py; a
write goes through tally_ui/writes.py (working file, then publish) between two
audit rows (tally_admin/data_changes.py), like marketing spend.
"""
from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

import tally_auth
from metrics import annotations as notes
from metrics import goals as rules
from metrics.common import MetricError
from metrics.currency import format_money
from metrics.params import Params
from tally_admin.data_changes import audited_change
from tally_auth import login
from tally_ui import published, writes

log = logging.getLogger("tally.dashboard")


def annotation_writer() -> tally_auth.User | None:
    """Who may add an annotation: anyone signed in once sign-in is configured;
    without it, whoever may change shared data (this computer only)."""
    if login.auth_configured():
        return login.current_user()
    return login.data_writer()


def set_goal(writer: tally_auth.User, kind, target, currency, start, end) -> None:
    """Check, then store a goal (MetricError, writes.Busy or AuditUnavailable for the page to show)."""
    goal = rules.clean_goal(kind, target, currency, start, end)
    _audited(writer, "set_goal", f"{goal[0]}:{goal[2]}",
             {"metric": goal[0], "target": goal[1], "currency": goal[2],
              "start_month": goal[3].isoformat(), "target_month": goal[4].isoformat()},
             lambda con: rules.save_goal(con, goal, writer.label))


def remove_goal(writer: tally_auth.User, goal_id: str) -> None:
    _audited(writer, "delete_goal", goal_id, {}, lambda con: rules.delete_goal(con, goal_id))


def add_annotation(writer: tally_auth.User, day, text) -> None:
    day, text = notes.clean_day(day), notes.clean_text(text)
    _audited(writer, "add_annotation", day.isoformat(), {"day": day.isoformat(), "text": text},
             lambda con: notes.add_annotation(con, day, text, writer.label))


def remove_annotation(writer: tally_auth.User, annotation_id: str) -> None:
    _audited(writer, "delete_annotation", annotation_id, {},
             lambda con: notes.delete_annotation(con, annotation_id))


def _audited(writer: tally_auth.User, action: str, object_id: str, facts: dict, change) -> None:
    audited_change(writer.label, action, object_id, facts,
                   lambda: writes.write(published.db_path(), change))


# --- what the pages draw ---------------------------------------------------------

def progress() -> pd.DataFrame:
    """Every goal's months; none when they cannot be computed (e.g. no exchange rate to the
    goal's currency: the Goals page says so, the charts just leave the goal out)."""
    try:
        return published.metric("goal_progress", Params())
    except MetricError as error:
        log.warning("goal progress unavailable: %s", error)
        return pd.DataFrame({c: pd.Series(dtype="object") for c in rules.PROGRESS_COLUMNS})


def chart_goal(params: Params, mrr_all: pd.DataFrame, currency: str | None) -> tuple[pd.DataFrame, str] | None:
    """(pace in MRR terms, label) for an MRR chart of `currency`, or None when no goal fits it.

    A goal counts the whole business in its currency, so it is drawn only over
    the same thing: no plan, interval or country filter, and the chart either
    in the goal's reporting currency or the account's only currency.
    """
    if currency is None or params.plans or params.intervals or params.countries:
        return None
    if params.currency != currency and set(mrr_all["currency"].dropna()) != {currency}:
        return None
    frame = progress()
    mine = frame[frame["currency"] == currency]
    for kind in ("mrr", "arr"):  # an MRR goal first: the chart is of MRR
        rows = mine[mine["metric"] == kind]
        if rows.empty:
            continue
        target, end = rows["target"].iloc[0], rows["month"].max()
        label = f"Pace to the {rules.KINDS[kind]} goal ({format_money(round(target), currency)} by {end:%b %Y})"
        if kind == "arr":
            rows = rows.assign(pace=rows["pace"] / 12)
            label += ", ÷ 12"
        return rows[["month", "currency", "pace"]], label
    return None


def status_lines(end: dt.date) -> list[tuple[bool, str]]:
    """(on track?, sentence) for every goal with an actual value by `end`."""
    frame = progress()
    lines = []
    for goal_id in frame["goal_id"].drop_duplicates():
        state = rules.status_at(frame, goal_id, end)
        if state is None:
            continue
        row = frame[frame["goal_id"] == goal_id].iloc[-1]
        currency, kind = row["currency"], rules.KINDS[row["metric"]]
        goal = f"{kind} goal {format_money(round(row['target']), currency)} by {row['month']:%b %Y}"
        at = f"at the end of {state['month']:%b %Y}"
        if state["on_track"]:
            lines.append((True, f"{goal}: on track {at}, {format_money(round(state['gap']), currency)} "
                                f"ahead of the pace needed."))
        else:
            lines.append((False, f"{goal}: behind by {format_money(round(-state['gap']), currency)} {at} "
                                 f"({kind} {format_money(round(state['actual']), currency)}, pace needed "
                                 f"{format_money(round(state['pace']), currency)})."))
    return lines
