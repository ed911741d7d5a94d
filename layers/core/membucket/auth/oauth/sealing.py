"""Sealed (HMAC-signed, expiring) values for the consent form, keyed by a secret kept in the bucket.

The consent page carries its validated authorization request, and after sign-in the approving
user, in hidden fields sealed here, so any process or Lambda container sharing the bucket can
check them and nothing is stored per visitor. ``oauth/key.json`` is created once, if absent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

from ...store import IF_ABSENT, ObjectStore, PreconditionFailed

__all__ = ["Sealer"]

KEY = "oauth/key.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    def __init__(self, store: ObjectStore, clock=time.time) -> None:
        self.store = store
        self.clock = clock
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        with self._lock:
            if self._key is None:
                try:
                    self.store.put(KEY, json.dumps({"key": secrets.token_hex(32)}).encode(), IF_ABSENT)
                except PreconditionFailed:
                    pass  # another process made it first: use theirs
                self._key = bytes.fromhex(json.loads(self.store.get(KEY).body)["key"])
            return self._key

    def seal(self, purpose: str, value: dict, ttl_seconds: float) -> str:
        body = _b64(json.dumps({"p": purpose, "exp": self.clock() + ttl_seconds, "v": value}, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._secret(), body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def unseal(self, purpose: str, sealed: object) -> dict | None:
        """The value, or None when forged, for another purpose, or expired."""
        if not isinstance(sealed, str) or sealed.count(".") != 1 or len(sealed) > 16_384:
            return None
        body, mac = sealed.split(".")
        expected = _b64(hmac.new(self._secret(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if data.get("p") != purpose or self.clock() > data.get("exp", 0):
            return None
        return data["v"]
