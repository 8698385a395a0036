"""A signed-in person and their role."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "admin")


@dataclass(frozen=True)
class User:
    name: str
    email: str | None
    role: str  # "viewer" or "admin"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        """Who, as the audit trail records it."""
        return f"{self.name} <{self.email}>" if self.email and self.email != self.name else self.name
