"""Goals & annotations: an MRR or ARR goal (admins), dated notes every time chart marks.

Adding an annotation is open to anyone signed in (anyone on this computer when
sign-in is off); setting goals and removing either is for whoever may change
shared data (admins once sign-in is configured). Text is shown as text only
(tables and plotly hover text, escaped), never as markdown or HTML.
"""
from __future__ import annotations

import datetime as dt
import zlib

import streamlit as st

import tally_auth
from metrics.common import MetricError, add_months, this_month
from metrics.params import Params
from tally_admin.data_changes import AuditUnavailable
from tally_ui import goals, layout, published, widgets, writes

PROBLEMS = (MetricError, writes.Busy, AuditUnavailable)


def goals_page() -> None:
    params = layout.header("Goals & annotations",
                           "A goal draws its pace on the MRR charts; an annotation marks every chart over time.")
    if params is None:
        return
    st.subheader("Goals")
    goal_list()
    writer = tally_auth.data_writer()
    if writer is None:
        st.caption(tally_auth.READ_ONLY_NOTE)
    else:
        goal_form(writer)
    st.subheader("Annotations")
    annotation_list(writer)
    author = goals.annotation_writer()
    if author is None:
        st.caption("Sign in to add an annotation.")
    else:
        annotation_form(author)


def goal_list() -> None:
    frame = published.metric("goals", Params())
    if frame.empty:
        st.info("No goal yet.")
        return
    widgets.table(frame[["metric", "target", "currency", "start_month", "target_month", "created_by"]]
                  .assign(metric=frame["metric"].str.upper()), ["target"], height=160)
    for on_track, line in goals.status_lines(this_month()):
        (st.success if on_track else st.warning)(line)


def goal_form(writer: tally_auth.User) -> None:
    main = (published.main_currencies() or ["usd"])[0]
    with st.form("goal_form"):
        st.markdown("**Set a goal** (replaces the goal for the same figure and currency)")
        left, right = st.columns(2)
        kind = left.selectbox("Figure", ["mrr", "arr"], format_func=str.upper, key="goal_metric")
        target = left.text_input("Target (e.g. 100000)", key="goal_target")
        currency = left.text_input("Currency", value=main, key="goal_currency")
        start = right.date_input("Start month", value=this_month(), key="goal_start")
        end = right.date_input("Goal month", value=add_months(this_month(), 6), key="goal_end")
        if st.form_submit_button("Save goal"):
            _run(lambda: goals.set_goal(writer, kind, target, currency, start, end), "Goal saved.")
    frame = published.metric("goals", Params())
    if not frame.empty:
        names = dict(zip(frame["goal_id"], frame["metric"].str.upper() + " · " + frame["currency"].str.upper()
                         + " · " + frame["target_month"].astype(str).str[:7]))
        left, right = st.columns([3, 1])
        chosen = left.selectbox("Goal to remove", list(names), format_func=lambda k: names[k],
                                key=_picker_key("goal_remove_pick", names))
        if right.button("Remove goal", key="goal_remove") and chosen:
            _run(lambda: goals.remove_goal(writer, chosen), "Goal removed.")


def annotation_list(writer: tally_auth.User | None) -> None:
    frame = published.metric("annotations", Params())
    if frame.empty:
        st.info("No annotation yet.")
        return
    widgets.table(frame[["day", "text", "created_by"]].sort_values("day", ascending=False), height=240)
    if writer is None:
        return
    labels = dict(zip(frame["annotation_id"], frame["day"].astype(str).str[:10] + " · " + frame["text"]))
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Annotation to remove", list(labels), format_func=lambda k: labels[k],
                            key=_picker_key("annotation_remove_pick", labels))
    if right.button("Remove annotation", key="annotation_remove") and chosen:
        _run(lambda: goals.remove_annotation(writer, chosen), "Annotation removed.")


def annotation_form(author: tally_auth.User) -> None:
    with st.form("annotation_form"):
        st.markdown("**Add an annotation**")
        left, right = st.columns([1, 3])
        day = left.date_input("Date", value=dt.date.today(), key="annotation_day")
        text = right.text_input("Text (up to 200 characters, e.g. price change)", key="annotation_text")
        if st.form_submit_button("Add annotation"):
            _run(lambda: goals.add_annotation(author, day, text), "Annotation added.")


def _picker_key(name: str, options: dict) -> str:
    """A new list (one added or removed) is a new picker: the old choice may be gone."""
    return f"{name}_{zlib.crc32(' '.join(options).encode()):08x}"


def _run(change, done: str) -> None:
    """Make the change; a problem is one line on the page, and the form keeps what was typed."""
    try:
        change()
    except PROBLEMS as error:
        st.error(str(error))
        return
    layout.flash(done)
    st.rerun()
