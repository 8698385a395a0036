"""Run one admin action exactly once per form submission, and record it.

Every action goes the same way:
1. its idempotency key is derived from (action, object id, parameters, form
   nonce): a double click or rerun of one submission gives the same key;
2. if the audit trail already holds a final outcome for the key, that outcome
   is returned and Stripe is not called again;
3. an `attempt` row is written, then the action runs (it re-fetches what it
   needs from Stripe, may refuse, then calls Stripe with the key);
4. an `outcome` row is written, then the changed objects go to the database.

When Stripe's answer is lost (a dropped connection, a 5xx), the action's
`recheck` looks at Stripe again and reports what the submission did. When the
outcome row cannot be written, the admin is still told what Stripe did; the
row is held (audit.py) and the result says `audited=False`, so the page keeps
the confirmation and its nonce: confirming again is answered from the held row.
A failed audit write is never a final outcome while an earlier try exists.

Stripe forgets idempotency keys after 24 hours and localstripe ignores them,
so steps 2-3 are what actually prevent a second refund.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import orjson

from tally_admin import writeback
from tally_admin.audit import AuditLog
from tally_admin.stripe_api import explain

log = logging.getLogger("tally.admin")
NOT_AUDITED = ("The audit trail could not record this (is the disk full?): Tally holds the record "
               "and writes it as soon as the audit file is writable. This confirmation stays "
               "open; confirming again does not act twice.")
NO_RECORD = ("Could not write the audit trail, so nothing was sent to Stripe. Check that the "
             "audit file is writable.")
_KEY_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_KEY_LOCKS_GUARD = threading.Lock()


class Refused(Exception):
    """Tally itself declines the action (e.g. more than is refundable); Stripe is not called."""


@dataclass
class Done:
    """What a successful action returns: a line for the admin and the changed objects."""
    message: str
    objects: list[dict] = field(default_factory=list)
    request_id: str | None = None
    result: dict = field(default_factory=dict)


@dataclass
class ActionResult:
    outcome: str  # succeeded | failed | refused | unknown
    message: str
    repeated: bool = False  # answered from the audit trail
    request_id: str | None = None
    result: dict = field(default_factory=dict)
    saved: str | None = None  # writeback.PUBLISHED | writeback.QUEUED | None
    audited: bool = True  # False: the outcome row is held, not yet written; keep the submission open

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"


def idempotency_key(action: str, object_id: str, params: dict, nonce: str) -> str:
    material = orjson.dumps([action, object_id, params, nonce], option=orjson.OPT_SORT_KEYS)
    return f"tally-{action}-{hashlib.sha256(material).hexdigest()[:48]}"


def _lock_for(key: str) -> threading.Lock:
    with _KEY_LOCKS_GUARD:
        return _KEY_LOCKS[key]


def run_action(audit: AuditLog, db_path: str | None, *, actor: str, action: str,
               object_id: str, params: dict, nonce: str,
               perform: Callable[[str], Done],
               recheck: Callable[[str], Done | None] | None = None) -> ActionResult:
    """Run `perform(key)` at most once per key; see the module docstring.

    `recheck(key)`: after a lost answer, what this submission did at Stripe
    (read only), or None when Stripe shows nothing from it.
    """
    key = idempotency_key(action, object_id, params, nonce)
    facts = dict(actor=actor, action=action, object_id=object_id, key=key, params=params)
    with _lock_for(key):
        audit.write_held()
        try:
            recorded = audit.final_outcome(key)
        except Exception:  # noqa: BLE001 - cannot tell whether it was done: do nothing
            log.exception("could not read the audit trail at %s", audit.path)
            return _no_record(audit, key)
        try:
            audit.attempt(actor=actor, action=action, object_id=object_id, key=key, params=params)
        except Exception:  # noqa: BLE001 - no record, no action
            log.exception("could not write the audit trail at %s", audit.path)
            if recorded is None:
                return _no_record(audit, key)
        if recorded is not None:
            _record(audit, facts, ActionResult(
                "repeated", f"Same submission again: returned the recorded {recorded.outcome} "
                            "outcome without calling Stripe.",
                request_id=recorded.stripe_request_id, result=recorded.result))
            return ActionResult(recorded.outcome, recorded.message, repeated=True,
                                request_id=recorded.stripe_request_id, result=recorded.result,
                                audited=not audit.holds(key))
        try:
            done = perform(key)
        except Refused as refusal:
            return _record(audit, facts, ActionResult("refused", str(refusal)))
        except Exception as error:  # noqa: BLE001 - recorded, then one line for the admin
            if not _is_stripe_error(error):
                log.exception("admin action %s on %s failed", action, object_id)
            message = explain(error)
            request_id = getattr(error, "request_id", None)
            if not _outcome_unknown(error):
                return _record(audit, facts, ActionResult("failed", message, request_id=request_id))
            found = _rechecked(recheck, key)
            if found is None:
                if recheck is not None:
                    message += " Tally asked Stripe again and found nothing from this submission yet."
                return _record(audit, facts, ActionResult("unknown", message, request_id=request_id))
            done = found
            done.message = f"Stripe's answer was lost; Tally checked again: {done.message}"
        result = _record(audit, facts, ActionResult("succeeded", done.message,
                                                    request_id=done.request_id, result=done.result))
    result.saved = _save(done.objects, db_path)
    return result


def _record(audit: AuditLog, facts: dict, result: ActionResult) -> ActionResult:
    """Write the outcome row; if it cannot be written, say so (the row is held by the audit log)."""
    try:
        audit.outcome(**facts, outcome=result.outcome, message=result.message,
                      request_id=result.request_id, result=result.result or None)
    except Exception:  # noqa: BLE001 - Stripe may have acted: the admin must still hear what it did
        log.exception("could not write the %s outcome of %s to %s", result.outcome,
                      facts["object_id"], audit.path)
        result.audited = False
        result.message = f"{result.message} {NOT_AUDITED}"
    return result


def _no_record(audit: AuditLog, key: str) -> ActionResult:
    """Nothing was sent. Final only when no earlier try of this submission exists."""
    try:
        tried = audit.holds(key) or audit.was_attempted(key)
    except Exception:  # noqa: BLE001 - unreadable: assume an earlier try may exist
        tried = True
    if tried:
        return ActionResult("unknown", NO_RECORD + " An earlier try of this submission exists, "
                                       "so it stays open.", audited=False)
    return ActionResult("failed", NO_RECORD)


def _rechecked(recheck, key: str) -> Done | None:
    if recheck is None:
        return None
    try:
        return recheck(key)
    except Exception as error:  # noqa: BLE001 - still no answer: the outcome stays unknown
        log.warning("could not re-check the outcome of %s: %s", key, explain(error))
        return None


def _save(objects: list[dict], db_path: str | None) -> str | None:
    if not (db_path and objects):
        return None
    try:
        return writeback.save_objects(objects, db_path)
    except Exception:  # noqa: BLE001 - Stripe acted and the audit has it; the next sync brings it
        log.exception("could not save the changed objects to %s", db_path)
        return None


def _is_stripe_error(error: Exception) -> bool:
    import stripe
    return isinstance(error, stripe.StripeError)


def _outcome_unknown(error: Exception) -> bool:
    """A dropped connection or a Stripe 5xx: the request may have been carried out."""
    import stripe
    if isinstance(error, stripe.APIConnectionError):
        return True
    return isinstance(error, stripe.APIError) and (getattr(error, "http_status", None) or 500) >= 500
