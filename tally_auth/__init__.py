"""Who is using the dashboard, and whether they may take admin actions.

Interface used by dashboard.py (the implementation is tally_auth's own):
- `authenticate() -> User | None`: renders the login UI when needed and
  returns the signed-in user, or None (the caller then calls st.stop()).
- `auth_configured() -> bool`: is OIDC or a local user list configured?
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    name: str
    email: str | None
    role: str  # "viewer" or "admin"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def auth_configured() -> bool:
    return False


def authenticate() -> User | None:
    # Placeholder until issue 6: no auth configured means a local viewer.
    return User("local viewer", None, "viewer")
