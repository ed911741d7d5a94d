"""PKCE (RFC 7636), S256 only: OAuth 2.1 and the MCP spec refuse ``plain``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .errors import OAuthError

__all__ = ["check_challenge", "verify"]

_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of 32 bytes, unpadded
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def check_challenge(challenge: str | None, method: str | None) -> str:
    """The challenge of an authorization request, or invalid_request."""
    if not challenge:
        raise OAuthError("invalid_request", "code_challenge is required (PKCE)")
    if method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256 (plain is not accepted)")
    if not _CHALLENGE.match(challenge):
        raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters (S256)")
    return challenge


def verify(verifier: str | None, challenge: str) -> bool:
    if not verifier or not _VERIFIER.match(verifier):
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return hmac.compare_digest(computed, challenge)
