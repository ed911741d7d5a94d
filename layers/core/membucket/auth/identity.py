"""An authenticated caller: the user whose memory it reaches, the app it acts as, and its scopes.

Scopes: ``read`` (search, list, get), ``write`` (add, edit, state changes; implies read),
``admin`` (apps, rules, tokens, export, the UI's management pages; implies write).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Forbidden

__all__ = ["SCOPES", "Identity", "InsufficientScope"]

SCOPES = ("read", "write", "admin")
_IMPLIED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


class InsufficientScope(Forbidden):
    code = "insufficient_scope"


@dataclass(frozen=True)
class Identity:
    user: str
    app: str | None  # None: the owner (admin tokens, the UI, loopback with auth off)
    scopes: frozenset[str]
    token_id: str | None = None

    def can(self, scope: str) -> bool:
        return any(scope in _IMPLIED[s] for s in self.scopes)

    def require(self, scope: str) -> None:
        if not self.can(scope):
            raise InsufficientScope(f"this token lacks the {scope!r} scope", required=scope)
