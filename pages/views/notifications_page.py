"""Admin page: where digests and alerts go, when they are sent, and everything sent so far.

Page functions only (dashboard.py registers them for admins). Settings are
checked when entered: a malformed address or URL is refused with the reason,
and the form keeps what was typed. Secrets (the SMTP password, the Slack
webhook URL) are never entered or shown here: the page only says whether they
are set where other secrets live.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from tally_auth import require_admin
from tally_notify import config as settings
from tally_notify.digest import digest
from tally_notify.loop import send
from tally_notify.state import NotifyState, notify_path_from_env
from tally_ui import published
from tally_ui.widgets import header

SECRETS_HINT = ("Set them as env vars (TALLY_SMTP_PASSWORD, TALLY_SLACK_WEBHOOK_URL) or in "
                "`.streamlit/secrets.toml`:\n\n```toml\n[tally_notify]\nsmtp_password = \"...\"\n"
                "slack_webhook_url = \"https://hooks.slack.com/services/...\"\n```")


def notifications_page() -> None:
    user = require_admin()
    st.title("Notifications")
    st.caption("Digests on a schedule and alerts after each publish, by email and Slack. "
               "`python -m tally_notify serve` (started with the updater by `make run`) sends them.")
    state = NotifyState(notify_path_from_env())
    _secrets_status()
    config = state.config()
    new = _settings_form(config)
    if new is not None:
        try:
            settings.check_config(new)
        except settings.BadSetting as error:
            st.error(f"Not saved: {error}")
        else:
            state.save_config(new, by=user.name)
            st.success("Saved. The notifier picks it up at its next check.")
            config = new
    _send_now(config, state)
    _sent_log(state)


def _secrets_status() -> None:
    found = settings.secrets()
    password = "set" if found.smtp_password else "not set (needed only if the server asks for a login)"
    slack = settings.slack_problem(found) or "set"
    st.markdown(f"**Secrets** — SMTP password: {password}. Slack webhook URL: {slack}")
    with st.expander("Where secrets go"):
        st.markdown(SECRETS_HINT)


def _settings_form(config: settings.NotifyConfig) -> settings.NotifyConfig | None:
    """The form; the entered settings when Save was pressed, else None."""
    with st.form("notify_settings"):
        base_url = st.text_input("Dashboard address (links in messages)", config.base_url)
        st.subheader("Email")
        email_to = st.text_area("Recipients (one per line)", "\n".join(config.email_to))
        left, right = st.columns(2)
        email_from = left.text_input("From address", config.email_from)
        smtp_host = right.text_input("SMTP server", config.smtp_host)
        smtp_port = left.number_input("SMTP port", 1, 65535, int(config.smtp_port))
        smtp_user = right.text_input("SMTP user (empty: no login)", config.smtp_user)
        starttls = st.checkbox("Use STARTTLS", config.smtp_starttls)
        slack = st.checkbox("Post to Slack (the webhook URL from the secrets)", config.slack)
        st.subheader("Digests (UTC)")
        left, right = st.columns(2)
        daily = left.checkbox("Daily digest", config.daily)
        daily_hour = right.number_input("Daily at hour", 0, 23, int(config.daily_hour))
        weekly = left.checkbox("Weekly digest", config.weekly)
        weekly_day = right.selectbox("Weekly on", range(7), int(config.weekly_day),
                                     format_func=lambda d: settings.WEEKDAYS[d])
        weekly_hour = right.number_input("Weekly at hour", 0, 23, int(config.weekly_hour))
        st.subheader("Alerts (0 turns a rule off)")
        movement = st.number_input("A churn or contraction movement above (major units of its currency)",
                                   0.0, value=float(config.movement_above or 0))
        rate = st.number_input("Payment success rate below (%)", 0.0, 100.0,
                               float(config.success_rate_below or 0))
        window = st.number_input("over the last (days)", 1, 90, int(config.success_window_days))
        disputes = st.checkbox("A dispute opened or an early fraud warning", config.disputes)
        sync_minutes = st.number_input("A sync or webhook failure lasting longer than (minutes)", 0,
                                       value=int(config.sync_failing_minutes or 0))
        if not st.form_submit_button("Save"):
            return None
    return settings.NotifyConfig(
        base_url=base_url, email_to=[a for a in email_to.replace(",", "\n").split() if a],
        email_from=email_from.strip(), smtp_host=smtp_host, smtp_port=int(smtp_port),
        smtp_user=smtp_user.strip(), smtp_starttls=starttls, slack=slack, daily=daily,
        daily_hour=int(daily_hour), weekly=weekly, weekly_day=int(weekly_day),
        weekly_hour=int(weekly_hour), movement_above=movement or None,
        success_rate_below=rate or None, success_window_days=int(window), disputes=disputes,
        sync_failing_minutes=int(sync_minutes) or None)


def _send_now(config: settings.NotifyConfig, state: NotifyState) -> None:
    if not st.button("Send yesterday's digest now", key="notify_send_now"):
        return
    through = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    with st.spinner("Sending…"):
        outcomes = send(digest(published.db_path(), config.base_url, through), config, state)
    for outcome in outcomes:
        if outcome.status == "sent":
            st.success(f"{outcome.channel}: sent")
        else:
            st.error(f"{outcome.channel}: failed after {outcome.attempts} tries: {outcome.error}")
    if not outcomes:
        st.error("No destination is set: add email recipients and an SMTP server, or Slack.")


def _sent_log(state: NotifyState) -> None:
    st.subheader("Sent and failed")
    frame = state.sent()
    if frame.empty:
        st.info("Nothing has been sent yet.")
        return
    failed = int((frame["status"] == "failed").sum())
    if failed:
        st.warning(f"{failed} of the {len(frame)} messages listed failed to send.")
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={c: header(c) for c in frame.columns})
