"""Token store: ``tokens/<id>.json`` in the bucket (outside every user namespace).

A token reads ``mb_<id>_<secret>``. Only ``sha256(secret)`` is stored; verification compares
hashes in constant time. The plain token is shown once, at creation. Lookups are cached for
``cache_seconds`` per process (a revocation made elsewhere takes effect within that time; one
made through this process takes effect at once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

from ..engine.keys import validate_app_name, validate_user_id
from ..errors import InvalidInput, MembucketError, NotFoundError
from ..store import IF_ABSENT, NotFound, ObjectStore
from .identity import SCOPES, Identity

__all__ = ["InvalidToken", "TokenInfo", "TokenStore"]

PREFIX = "tokens/"
_TOKEN_RE = re.compile(r"^mb_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")


class InvalidToken(MembucketError):
    code, status = "invalid_token", 401


@dataclass
class TokenInfo:
    id: str
    user: str
    app: str | None
    scopes: list[str]
    created_at: str
    description: str = ""
    revoked_at: str | None = None
    secret_sha256: str = field(default="", repr=False)

    def public(self) -> dict:
        out = asdict(self)
        out.pop("secret_sha256")
        return out


class TokenStore:
    def __init__(self, store: ObjectStore, cache_seconds: float = 10.0) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()

    def create(self, user: str, app: str | None, scopes: list[str] | tuple[str, ...] = ("write",), description: str = "") -> tuple[str, TokenInfo]:
        """Create a token; returns (the plain token, shown once, and its stored info)."""
        validate_user_id(user)
        if app is not None:
            validate_app_name(app)
        scopes = sorted(set(scopes))
        if not scopes or any(s not in SCOPES for s in scopes):
            raise InvalidInput(f"scopes must be among {', '.join(SCOPES)}")
        if len(description) > 200:
            raise InvalidInput("description is longer than 200 characters")
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(
            id=token_id, user=user, app=app, scopes=scopes, created_at=_now(),
            description=description, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        )
        self.store.put(PREFIX + token_id + ".json", json.dumps(asdict(info)).encode(), IF_ABSENT)
        return f"mb_{token_id}_{secret}", info

    def _load(self, token_id: str) -> TokenInfo | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token_id)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        try:
            info = TokenInfo(**json.loads(self.store.get(PREFIX + token_id + ".json").body))
        except NotFound:
            info = None
        with self._lock:
            self._cache[token_id] = (now, info)
        return info

    def verify(self, token: str) -> Identity:
        """The identity a bearer token stands for; InvalidToken (401) for anything else."""
        m = _TOKEN_RE.match(token or "")
        if not m:
            raise InvalidToken("malformed token")
        info = self._load(m.group(1))
        presented = hashlib.sha256(m.group(2).encode()).hexdigest()
        # Compare even when the id is unknown, so timing does not tell ids apart.
        expected = info.secret_sha256 if info is not None else "0" * 64
        if not hmac.compare_digest(presented, expected) or info is None:
            raise InvalidToken("unknown token")
        if info.revoked_at:
            raise InvalidToken("token revoked")
        return Identity(user=info.user, app=info.app, scopes=frozenset(info.scopes), token_id=info.id)

    def list(self, user: str | None = None) -> list[TokenInfo]:
        out = []
        for obj in self.store.list(PREFIX):
            info = TokenInfo(**json.loads(self.store.get(obj.key).body))
            if user is None or info.user == user:
                out.append(info)
        return sorted(out, key=lambda t: t.created_at)

    def get(self, token_id: str, user: str | None = None) -> TokenInfo:
        """A token's stored info, read fresh; NotFoundError unless it exists (and belongs to ``user``)."""
        if not isinstance(token_id, str) or not re.fullmatch(r"[0-9a-f]{16}", token_id):
            raise InvalidInput("invalid token id")
        with self._lock:
            self._cache.pop(token_id, None)
        info = self._load(token_id)
        if info is None or (user is not None and info.user != user):
            raise NotFoundError(f"token {token_id} not found")
        return info

    def revoke(self, token_id: str, user: str | None = None) -> TokenInfo:
        info = self.get(token_id, user)
        if not info.revoked_at:
            info.revoked_at = _now()
            self.store.put(PREFIX + token_id + ".json", json.dumps(asdict(info)).encode())
        with self._lock:
            self._cache[token_id] = (time.monotonic(), info)
        return info


def _now() -> str:
    """The log's timestamp format; imported here, not at module load: engine.log brings numpy, which a token check never needs."""
    from ..engine.log import format_ts, utcnow

    return format_ts(utcnow())
