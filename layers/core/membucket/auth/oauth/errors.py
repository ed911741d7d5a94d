"""OAuth errors as RFC 6749 §5.2 says: ``{"error": ..., "error_description": ...}`` with a status.

They are not ``MembucketError``: the OAuth endpoints answer in OAuth's shape, which clients
parse, not in the API's ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

__all__ = ["OAuthError"]


class OAuthError(Exception):
    """``error`` is an RFC 6749 / 7591 / 8707 code: invalid_request, invalid_client, invalid_grant,
    unauthorized_client, unsupported_grant_type, invalid_scope, invalid_target,
    invalid_redirect_uri, invalid_client_metadata, access_denied, temporarily_unavailable."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}
