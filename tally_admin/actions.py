"""Run one admin action exactly once per form submission, and record it.

Every action goes the same way:
1. its idempotency key is derived from (action, object id, parameters, form
   nonce): a double click or rerun of one submission gives the same key;
2. if the audit trail already holds a final outcome for the key, that outcome
   is returned and Stripe is not called again;
3. an `attempt` row is written, then the action runs (it re-fetches what it
   needs from Stripe, may refuse, then calls Stripe with the key);
4. an `outcome` row is written, then the changed objects go to the database.

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
               perform: Callable[[str], Done]) -> ActionResult:
    """Run `perform(key)` at most once per key; see the module docstring."""
    key = idempotency_key(action, object_id, params, nonce)
    facts = dict(actor=actor, action=action, object_id=object_id, key=key, params=params)
    with _lock_for(key):
        try:
            recorded = audit.final_outcome(key)
            audit.attempt(actor=actor, action=action, object_id=object_id, key=key, params=params)
        except Exception:  # noqa: BLE001 - no record, no action
            log.exception("could not write the audit trail at %s", audit.path)
            return ActionResult("failed", "Could not write the audit trail, so nothing was sent "
                                          "to Stripe. Check that the audit file is writable.")
        if recorded is not None:
            audit.outcome(**facts, outcome="repeated",
                          message=f"Same submission again: returned the recorded {recorded.outcome} "
                                  "outcome without calling Stripe.",
                          request_id=recorded.stripe_request_id, result=recorded.result)
            return ActionResult(recorded.outcome, recorded.message, repeated=True,
                                request_id=recorded.stripe_request_id, result=recorded.result)
        try:
            done = perform(key)
        except Refused as refusal:
            audit.outcome(**facts, outcome="refused", message=str(refusal))
            return ActionResult("refused", str(refusal))
        except Exception as error:  # noqa: BLE001 - recorded, then one line for the admin
            if not _is_stripe_error(error):
                log.exception("admin action %s on %s failed", action, object_id)
            message = explain(error)
            request_id = getattr(error, "request_id", None)
            outcome = "unknown" if _outcome_unknown(error) else "failed"
            audit.outcome(**facts, outcome=outcome, message=message, request_id=request_id)
            return ActionResult(outcome, message, request_id=request_id)
        audit.outcome(**facts, outcome="succeeded", message=done.message,
                      request_id=done.request_id, result=done.result)
    saved = writeback.save_objects(done.objects, db_path) if db_path and done.objects else None
    return ActionResult("succeeded", done.message, request_id=done.request_id,
                        result=done.result, saved=saved)


def _is_stripe_error(error: Exception) -> bool:
    import stripe
    return isinstance(error, stripe.StripeError)


def _outcome_unknown(error: Exception) -> bool:
    """A dropped connection or a Stripe 5xx: the request may have been carried out."""
    import stripe
    if isinstance(error, stripe.APIConnectionError):
        return True
    return isinstance(error, stripe.APIError) and (getattr(error, "http_status", None) or 500) >= 500
