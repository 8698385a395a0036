"""The sidebar's segment controls: metadata filters, saved segments, saving one.

Filters are `object.key=value` texts (the CLI's `--where` form), offered from
the metadata found in the data, most common first; they live in the URL as
repeated `where` parameters (tally_ui/filters.py). A saved segment is a name
for a set of them, stored in the database through the dashboard's audited
write path and picked from the sidebar.
"""
from __future__ import annotations

import streamlit as st

import tally_auth
from metrics import segments
from metrics.params import Params
from tally_ui import published, writes

WHERE, SAVED, NAME, MESSAGE = "f_where", "f_saved_segment", "f_segment_name", "_f_segment_message"
MAX_VALUES_PER_KEY = 50  # a key with more values is an id, not a segment


def _offered():
    found = published.metric("segment_values", Params())
    if found.empty:
        return found
    values_per_key = found.groupby(["object_type", "key"])["value"].transform("count")
    return found[values_per_key <= MAX_VALUES_PER_KEY]


def where_options() -> list[str]:
    """Every `object.key=value` a filter can pick, keys and values most common first."""
    offered = _offered()
    return [f"{o}.{k}={v}" for o, k, v in zip(offered["object_type"], offered["key"], offered["value"])]


def split_keys() -> list[tuple[str, str]]:
    """(object type, key) pairs a chart can be split by, most common first."""
    offered = _offered()
    return list(dict.fromkeys(zip(offered["object_type"], offered["key"])))


def key_label(object_type: str, key: str) -> str:
    return key if object_type == "customer" else f"{object_type} {key}"


def label(text: str) -> str:
    """`customer.channel=partner` as "channel = partner" (other objects keep their type)."""
    ((object_type, key, (value,)),) = segments.parse_where([text])
    return f"{key_label(object_type, key)} = {value}"


def saved() -> dict[str, list[str]]:
    """Saved segment name -> its filters as texts."""
    rows = published.metric("saved_segments", Params())
    return {name: segments.where_texts(segments.saved_where(conditions))
            for name, conditions in zip(rows["name"], rows["conditions"])}


def draw(options: list[str]) -> None:
    """Inside the sidebar's Filters expander."""
    named = saved()
    picked = st.session_state.get(SAVED)
    if picked and (picked not in named or sorted(named[picked]) != sorted(st.session_state.get(WHERE, []))):
        st.session_state[SAVED] = ""  # the filters moved away from the saved segment
    if named:
        st.selectbox("Saved segment", [""] + list(named), key=SAVED, format_func=lambda n: n or "—",
                     on_change=_apply, args=(named, options))
    if options:
        st.multiselect("Metadata", options, key=WHERE, format_func=label,
                       help="Stripe metadata on customers, subscriptions and products. Values of one key: "
                            "any of them; different keys: all of them.")
    if st.session_state.get(WHERE) and tally_auth.data_writer() is not None:
        st.text_input("Save these filters as", key=NAME, max_chars=segments.MAX_NAME)
        st.button("Save segment", key="f_segment_save", on_click=_save)
    kind, text = st.session_state.pop(MESSAGE, (None, None))
    if kind == "error":
        st.error(text)
    elif kind:
        st.success(text.replace("[", "\\[").replace("!", "\\!").replace("*", "\\*").replace("_", "\\_"))


def _apply(named: dict[str, list[str]], options: list[str]) -> None:
    name = st.session_state.get(SAVED)
    if name in named:
        st.session_state[WHERE] = [t for t in named[name] if t in options]


def _save() -> None:
    """The Save button: store the current filters under the typed name, audited."""
    from tally_admin.data_changes import AuditUnavailable, audited_change
    writer = tally_auth.data_writer()
    if writer is None:
        return
    texts = list(st.session_state.get(WHERE, []))
    try:
        name = segments.clean_name(st.session_state.get(NAME, ""))
        where = segments.parse_where(texts)
        audited_change(writer.label, "save_segment", name, {"conditions": texts},
                       lambda: writes.write(published.db_path(),
                                            lambda con: segments.save_segment(con, name, where, writer.label)))
    except (ValueError, writes.Busy, AuditUnavailable) as error:
        st.session_state[MESSAGE] = ("error", str(error))
        return
    st.session_state[SAVED] = name
    st.session_state[MESSAGE] = ("success", f"Saved the segment “{name}”.")
