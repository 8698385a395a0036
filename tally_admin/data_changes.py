"""Changes to shared data from the dashboard (exchange rates, marketing spend, syncs), audited.

Unlike refunds these do not touch Stripe, but they change what every viewer
sees, so the audit trail records who did what: an attempt row before the
write, an outcome row after it.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Callable, TypeVar

from tally_admin.audit import AuditLog, audit_path_from_env

T = TypeVar("T")
log = logging.getLogger("tally.admin")


class AuditUnavailable(ValueError):
    """The audit trail could not be written, so the change was not made."""


def audited_change(actor: str, action: str, object_id: str, params: dict, change: Callable[[], T],
                   outcome_of: Callable[[T], tuple[str, str]] | None = None,
                   redact: Callable[[str], str] = str) -> T:
    """Run `change()` between an attempt and an outcome row; no record, no change.

    `redact` cleans an error's text before it is stored (e.g. removes an API key).
    """
    facts: dict[str, Any] = dict(actor=actor, action=action, object_id=object_id,
                 key=f"tally-{action}-{uuid.uuid4().hex}", params=params)
    try:
        audit = AuditLog(audit_path_from_env())
        audit.attempt(**facts)
    except Exception as error:  # noqa: BLE001 - one plain line for the page
        raise AuditUnavailable("Could not write the audit trail, so nothing was changed. "
                               "Check that the audit file is writable.") from error
    try:
        result = change()
    except Exception as error:
        line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        audit.outcome(**facts, outcome="failed", message=redact(line))
        raise
    outcome, message = outcome_of(result) if outcome_of else ("succeeded", f"{action} done")
    try:
        audit.outcome(**facts, outcome=outcome, message=message)
    except Exception:  # noqa: BLE001 - the change is made: the audit log holds the row, writes it later
        log.exception("could not write the outcome of %s on %s; the row is held", action, object_id)
    return result
