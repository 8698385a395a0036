"""Session tokens for local users, signed with a key only this process knows.

A page can write anything into st.session_state, so the session holds a
signed token rather than a user: a forged or edited token fails the check,
and the role is re-read from secrets.toml each time (a demoted or removed
user loses access at once). Restarting the server signs everyone out.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

_KEY = os.urandom(32)
MAX_AGE_SECONDS = 12 * 3600


def _sign(payload: bytes) -> str:
    return hmac.new(_KEY, payload, hashlib.sha256).hexdigest()


def issue(user_name: str, now: float | None = None) -> str:
    payload = json.dumps({"user": user_name, "at": int(now or time.time())}).encode()
    return f"{base64.urlsafe_b64encode(payload).decode()}.{_sign(payload)}"


def verified_user_name(token: object, now: float | None = None) -> str | None:
    """The user name a token was issued for, or None if forged, edited or expired."""
    if not isinstance(token, str) or "." not in token:
        return None
    encoded, signature = token.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
        claims = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(_sign(payload), signature):
        return None
    if (now or time.time()) - int(claims.get("at", 0)) > MAX_AGE_SECONDS:
        return None
    return claims.get("user")
