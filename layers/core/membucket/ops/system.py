"""Server-level operations that are not about one namespace: readiness and the effective config."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import StoreUnavailable
from ..settings import Settings
from ..store import ObjectStore, StoreError

__all__ = ["readiness", "public_config", "mask_url", "SECRET_WORDS"]

SECRET_WORDS = ("key", "secret", "token", "password", "passphrase", "credential")


def mask_url(value: str) -> str:
    """Hide the password (and query string, which may carry signatures) of a URL; keep the rest."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}" if ":" in userinfo else f"***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def public_config(settings: Settings) -> dict[str, Any]:
    """The effective settings, with anything secret-looking masked (safe to show an admin)."""
    out: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if value and any(w in name.lower() for w in SECRET_WORDS):
            out[name] = "***"
        elif isinstance(value, str) and "://" in value:
            out[name] = mask_url(value)
        else:
            out[name] = value
    return out


def readiness(store: ObjectStore) -> dict[str, Any]:
    """Check that the store answers (one LIST of at most one key); StoreUnavailable (503) if not."""
    start = time.perf_counter()
    try:
        list(store.list("tokens/", limit=1))
    except StoreError as exc:
        raise StoreUnavailable(f"the store is not reachable: {type(exc).__name__}") from exc
    return {"status": "ready", "store_ms": round((time.perf_counter() - start) * 1000, 1)}
