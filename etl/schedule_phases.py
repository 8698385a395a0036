"""Subscription schedule phases as rows: each phase's items (price, quantity,
coupons) in `subscription_schedule_phase_items`, written with the schedule."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa

PHASE_ITEM_SCHEMA = pa.schema([
    ("schedule_id", pa.string()), ("phase", pa.int32()), ("start_date", pa.timestamp("us")),
    ("end_date", pa.timestamp("us")), ("currency", pa.string()), ("price_id", pa.string()),
    ("quantity", pa.int64()), ("coupon_ids", pa.list_(pa.string())),
    ("tax_rate_ids", pa.list_(pa.string()))])


def phase_item_rows(schedules: list[dict]) -> pa.Table:
    """One row per item of each phase of each schedule (its rows replace the old set)."""
    rows: dict[str, list] = {name: [] for name in PHASE_ITEM_SCHEMA.names}
    for schedule in schedules:
        for number, phase in enumerate(schedule.get("phases") or []):
            # `plans` before API version 2020-08-27; a single `coupon` before `discounts`
            phase_coupons = _coupon_ids(phase.get("discounts"), phase.get("coupon"))
            for item in phase.get("items") or phase.get("plans") or []:
                rows["schedule_id"].append(schedule["id"])
                rows["phase"].append(number)
                rows["start_date"].append(_timestamp(phase.get("start_date")))
                rows["end_date"].append(_timestamp(phase.get("end_date")))
                rows["currency"].append(phase.get("currency") or _price_field(item, "currency"))
                rows["price_id"].append(_id(item.get("price")) or _id(item.get("plan")))
                rows["quantity"].append(item.get("quantity"))
                rows["coupon_ids"].append(phase_coupons + _coupon_ids(item.get("discounts"), None))
                # an item's own tax rates replace the phase's default ones
                rates = item.get("tax_rates") or phase.get("default_tax_rates") or []
                rows["tax_rate_ids"].append([i for r in rates if (i := _id(r))])
    return pa.table(rows, schema=PHASE_ITEM_SCHEMA)


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _price_field(item: dict, key: str):
    price = item.get("price") or item.get("plan")
    return price.get(key) if isinstance(price, dict) else None


def _coupon_ids(discounts, coupon) -> list[str]:
    """Coupons a phase or item names: `discounts[].coupon` (id or expanded), or an
    expanded `discounts[].discount`; older shapes a single `coupon`."""
    ids = [_id(d.get("coupon")) or _id((_as_dict(d.get("discount")).get("source") or {}).get("coupon"))
           or _id(_as_dict(d.get("discount")).get("coupon"))
           for d in discounts or [] if isinstance(d, dict)]
    return [i for i in ids + [_id(coupon)] if i]


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _timestamp(seconds) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(int(seconds), dt.UTC).replace(tzinfo=None)


def replace_phase_items(con, schedule_ids: list, items: pa.Table, upsert: bool = True) -> None:
    """A schedule's phases change as a whole (`subscription_schedule.updated`): its rows are replaced."""
    if upsert:
        con.execute("DELETE FROM subscription_schedule_phase_items WHERE schedule_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [schedule_ids])
    if items.num_rows:
        con.register("_tally_phase_items", items)
        try:
            con.execute("INSERT INTO subscription_schedule_phase_items BY NAME "
                        "SELECT * FROM _tally_phase_items")
        finally:
            con.unregister("_tally_phase_items")
