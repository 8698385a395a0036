"""The digest's figures are the metric layer's, each linked to its page; the CLI sends or prints one."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from etl import store
from metrics.currency import format_money
from metrics.params import Params
from tally_notify.config import NotifyConfig
from tally_notify.digest import digest, run_metric
from tally_notify.state import NotifyState, notify_path_from_env
from tests.support.servers import ROOT

BASE = "https://tally.example.com"


@pytest.fixture
def through(demo_db) -> dt.date:
    """The demo account's last day with charges: a digest through it has something to say."""
    con = store.open_published(demo_db)
    try:
        days = run_metric(con, "payments", Params(granularity="day"))["day"]
    finally:
        con.close()
    return max(days).date()


def test_a_weekly_digest_shows_the_metrics_numbers_with_links(demo_db, through):
    message = digest(demo_db, BASE, through, days=7)
    start = through - dt.timedelta(days=6)
    con = store.open_published(demo_db)
    try:
        pay = run_metric(con, "payments", Params(granularity="day", start=start, end=through))
        mrr = run_metric(con, "mrr_daily", Params(granularity="day", start=start, end=through))
    finally:
        con.close()
    rate = pay["succeeded"].sum() / pay["charges"].sum()
    assert f"{rate:.1%} of {pay['charges'].sum()} charges succeeded" in message.text
    for currency, rows in mrr.groupby("currency"):
        assert format_money(round(rows.sort_values("date").iloc[-1]["mrr"]), currency) in message.text
    for title, page in [("MRR", "mrr"), ("Top movements by customer", "mrr"), ("Trials", "customers"),
                        ("Payment success rate", "payments"), ("Open dunning", "dunning"),
                        ("Refunds and disputes", "refunds")]:
        assert f"{title} ({BASE}/{page})" in message.text
        assert f'<a href="{BASE}/{page}">{title}</a>' in message.html
        assert f"<{BASE}/{page}|{title}>" in message.slack
    top = message.text.split("Top movements by customer")[1].split("\n\n")[0]
    assert 1 <= top.count("\n  - ") <= 5
    assert message.subject.startswith("Tally weekly digest")


def test_a_figure_that_cannot_be_computed_is_named_and_the_rest_still_go(demo_db):
    message = digest(demo_db, BASE, dt.date(1999, 1, 31), days=1)
    assert "not available" in message.text or "No charges in this period" in message.text
    assert "Open dunning" in message.text


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "tally_notify", "send-digest", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dry_run_prints_the_digest_and_sends_nothing(demo_db, through, state):
    result = cli("--db", demo_db, "--dry-run", "--weekly", "--through", through.isoformat(), env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Tally weekly digest") and "Payment success rate" in result.stdout
    assert NotifyState(notify_path_from_env(demo_db)).sent().empty


def test_send_digest_mails_it_and_logs_it(demo_db, through, smtp_server):
    port, inbox = smtp_server
    notify = NotifyState(notify_path_from_env())
    notify.save_config(NotifyConfig(email_to=["ceo@example.com"], email_from="tally@example.com",
                                    smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                    base_url=BASE), by="test")
    result = cli("--through", through.isoformat(), env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "email: sent" in result.stderr
    [mail] = inbox.messages
    assert mail["Subject"].startswith("Tally daily digest")
    text = mail.get_body(("plain",)).get_content()
    assert f"{BASE}/payments" in text and "Open dunning" in text
    assert notify.sent()["status"].tolist() == ["sent"]


def test_send_digest_without_a_destination_says_so(demo_db):
    result = cli(env=dict(os.environ))
    assert result.returncode == 1 and "No destination is set" in result.stderr
    assert "Traceback" not in result.stderr


def test_slack_text_shows_customer_names_literally():
    """A customer named like Slack markup is not a link or an @channel mention."""
    from tally_notify.digest import Section, render
    message = render([Section("Top movements by customer", "mrr", ["<!channel> & <https://x.example|pay>: churn"])],
                     "Tally alert", "http://localhost:8501")
    assert "&lt;!channel&gt; &amp; &lt;https://x.example|pay&gt;: churn" in message.slack
    assert "<!channel>" not in message.slack and "<https://x.example" not in message.slack
