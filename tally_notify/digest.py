"""The digest: each figure from a registered metric (by name), each with a link to its page.

A digest covers `days` days through `through` (inclusive, UTC): payments,
refunds and disputes over those days; MRR at the end against the day before
they began; movements, the top movements and trials in `through`'s month so
far; dunning still open now.
"""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field

import pandas as pd

from etl import store
from metrics.common import MetricError
from metrics.currency import format_money, to_major
from metrics.params import Params
from tally_notify.deliver import Message

MOVEMENT_KINDS = ("new", "reactivation", "expansion", "contraction", "churn")
LOSSES = ("contraction", "churn")


@dataclass
class Section:
    title: str
    page: str  # the dashboard page's URL path
    lines: list[str] = field(default_factory=list)


def run_metric(con, name: str, params: Params) -> pd.DataFrame:
    """A registered metric by name: the same figures as the dashboard and `metrics export`."""
    import metrics  # noqa: F401 - importing the package registers every metric
    from metrics.registry import METRICS
    return METRICS[name].function(con, params)


def _money(amount, currency: str, sign: bool = False) -> str:
    text = format_money(round(float(amount)), currency)
    return f"+{text}" if sign and amount > 0 else text


def mrr_section(con, start: dt.date, end: dt.date) -> Section:
    section = Section("MRR", "mrr")
    frame = run_metric(con, "mrr_daily", Params(granularity="day", start=start - dt.timedelta(days=1),
                                                end=end))
    for currency, rows in frame.sort_values("date").groupby("currency"):
        now, before = rows.iloc[-1]["mrr"], rows.iloc[0]["mrr"]
        section.lines.append(f"{_money(now, currency)} ({_money(now - before, currency, sign=True)})")
    return section


def movements_section(con, month: dt.date) -> Section:
    section = Section(f"Movements in {month:%B %Y} so far", "mrr")
    frame = run_metric(con, "mrr_movements", Params(start=month, end=month))
    for _, row in frame.iterrows():
        parts = [f"{kind} {_money(row[kind], row['currency'])}" for kind in MOVEMENT_KINDS if row[kind]]
        if parts:
            section.lines.append(f"{row['currency'].upper()}: " + ", ".join(parts))
    return section


def top_movements(con, month: dt.date, limit: int = 5) -> pd.DataFrame:
    """Each customer's movements in the month (native currency), biggest first: compared
    in USD where the metric can convert them, else in major units."""
    keys = ["customer_id", "movement"]
    native = _movements(con, Params(extra={"month": f"{month:%Y-%m}"}))
    try:
        usd = _movements(con, Params(currency="usd", extra={"month": f"{month:%Y-%m}"}))
        size = native[keys].merge(usd[[*keys, "movement_amount"]], on=keys, how="left")["movement_amount"]
        native = native.assign(size=size.fillna(0).to_numpy() / 100)
    except MetricError:  # no rate for a currency: compare major units
        native = native.assign(size=native.apply(
            lambda r: float(to_major(r["movement_amount"], r["currency"]) or 0), axis=1))
    return native.sort_values("size", ascending=False).head(limit)


def _movements(con, params: Params) -> pd.DataFrame:
    frame = run_metric(con, "mrr_drilldown", params)
    frame = frame[frame["movement"].isin(MOVEMENT_KINDS)]
    return frame.drop_duplicates(["customer_id", "movement", "currency"]).reset_index(drop=True)


def top_section(con, month: dt.date) -> Section:
    section = Section("Top movements by customer", "mrr")
    for _, row in top_movements(con, month).iterrows():
        sign = "-" if row["movement"] in LOSSES else "+"
        who = row["customer_name"] or row["customer_id"]
        section.lines.append(f"{who}: {row['movement']} {sign}{_money(row['movement_amount'], row['currency'])}")
    return section


def trials_section(con, month: dt.date) -> Section:
    section = Section("Trials", "customers")
    started = int(run_metric(con, "trials_started", Params(start=month, end=month))["trials_started"].sum())
    frame = run_metric(con, "trial_conversion", Params(start=month, end=month))
    ended, converted = int(frame["trials_ended"].sum()), int(frame["converted"].sum())
    section.lines.append(f"{started} new trials in {month:%B}; {ended} trials ended, {converted} converted to paying")
    return section


def payments_sections(con, start: dt.date, end: dt.date) -> list[Section]:
    frame = run_metric(con, "payments", Params(granularity="day", start=start, end=end))
    pay = Section("Payment success rate", "payments")
    charges, succeeded = int(frame["charges"].sum()), int(frame["succeeded"].sum())
    pay.lines.append(f"{succeeded / charges:.1%} of {charges} charges succeeded" if charges
                     else "No charges in this period")
    money = Section("Refunds and disputes", "refunds")
    for currency, rows in frame.groupby("currency"):
        refunds, disputes = rows["refunds"].sum(), int(rows["disputes"].sum())
        if refunds or disputes:
            money.lines.append(f"{currency.upper()}: refunds {_money(refunds, currency)}, {disputes} "
                               f"disputes ({_money(rows['disputed_amount'].sum(), currency)})")
    if not money.lines:
        money.lines.append("No refunds or disputes in this period")
    return [pay, money]


def dunning_section(con) -> Section:
    section = Section("Open dunning", "dunning")  # the admins' dunning desk
    frame = run_metric(con, "recovery", Params())
    for currency, rows in frame.groupby("currency"):
        if rows["open_dunning"].sum():
            section.lines.append(f"{int(rows['open_dunning'].sum())} invoices, "
                                 f"{_money(rows['open_dunning_amount'].sum(), currency)}")
    if not section.lines:
        section.lines.append("No invoices in dunning")
    return section


def _safely(build, title: str, page: str) -> list[Section]:
    """One figure that cannot be computed is named as such; the others still go out."""
    try:
        built = build()
    except (MetricError, ValueError, KeyError) as error:
        return [Section(title, page, [f"not available: {error}"])]
    return built if isinstance(built, list) else [built]


def sections(db_path: str, through: dt.date, days: int) -> list[Section]:
    start, month = through - dt.timedelta(days=days - 1), through.replace(day=1)
    con = store.open_published(db_path)
    try:
        return [*_safely(lambda: mrr_section(con, start, through), "MRR", "mrr"),
                *_safely(lambda: movements_section(con, month), "Movements", "mrr"),
                *_safely(lambda: top_section(con, month), "Top movements by customer", "mrr"),
                *_safely(lambda: trials_section(con, month), "Trials", "customers"),
                *_safely(lambda: payments_sections(con, start, through), "Payments", "payments"),
                *_safely(lambda: dunning_section(con), "Open dunning", "dunning")]
    finally:
        con.close()


def link(base_url: str, page: str) -> str:
    return f"{base_url.rstrip('/')}/{page}"


def slack_text(text: str) -> str:
    """Text as Slack shows it literally: `<...>` would be a link or an @channel mention
    (customer names come from Stripe, typed by anyone who signs up)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(parts: list[Section], subject: str, base_url: str, kind: str = "digest") -> Message:
    text, rich, slack = [subject, ""], [f"<h2>{html.escape(subject)}</h2>"], [f"*{slack_text(subject)}*"]
    for part in parts:
        url = link(base_url, part.page)
        lines = part.lines or ["nothing"]
        text += [f"{part.title} ({url})", *[f"  - {line}" for line in lines], ""]
        rich.append(f'<h3><a href="{html.escape(url)}">{html.escape(part.title)}</a></h3><ul>'
                    + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
        slack.append(f"*<{url}|{slack_text(part.title)}>*\n" + "\n".join(f"• {slack_text(line)}" for line in lines))
    body = "<html><body>" + "\n".join(rich) + "</body></html>"
    return Message(kind, subject, "\n".join(text).rstrip() + "\n", body, "\n\n".join(slack))


def digest(db_path: str, base_url: str, through: dt.date, days: int = 1) -> Message:
    period = f"{through:%a %d %b %Y}" if days == 1 else \
        f"{through - dt.timedelta(days=days - 1):%d %b} – {through:%d %b %Y}"
    name = "Daily" if days == 1 else "Weekly" if days == 7 else f"{days}-day"
    return render(sections(db_path, through, days), f"Tally {name.lower()} digest: {period}",
                  base_url)


