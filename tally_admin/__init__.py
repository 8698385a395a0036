"""Admin actions against Stripe: refunds, cancellations, and their audit trail.

- `refund_charge`, `cancel_subscription`, `undo_cancellation`: run once per
  form submission (idempotency key from the form nonce), recorded before and
  after in the audit trail, result written to the database at once.
- `tally_admin.dunning`: the dunning desk's actions on a failed, open invoice
  (retry now, pause/resume collection, mark uncollectible, credit, coupon).
- `AuditLog(audit_path_from_env())`: the append-only audit trail.
- `writeback.save_objects`: publish re-fetched objects at once, or queue them
  in `etl/spool.py` for the next sync while a sync holds the database.
"""
from tally_admin.actions import ActionResult, idempotency_key
from tally_admin.audit import AuditLog, audit_path_from_env
from tally_admin.refunds import refund_charge
from tally_admin.subscriptions import cancel_subscription, undo_cancellation

__all__ = ["ActionResult", "AuditLog", "audit_path_from_env", "cancel_subscription",
           "idempotency_key", "refund_charge", "undo_cancellation"]
