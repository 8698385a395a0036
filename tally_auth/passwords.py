"""Salted scrypt password hashes, stored as `scrypt$n$r$p$salt$hash` (base64).

The parameters travel with the hash so they can be raised later without
invalidating the hashes already in secrets.toml.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

N, R, P = 2 ** 14, 8, 1
KEY_LENGTH = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=KEY_LENGTH)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for any malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected),
                                maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError, AttributeError):
        return False
    return hmac.compare_digest(actual, expected)
