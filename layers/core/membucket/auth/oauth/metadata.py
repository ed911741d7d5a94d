"""The discovery documents: RFC 8414 authorization-server metadata and RFC 9728 protected-resource metadata."""

from __future__ import annotations

from .server import OFFERED_SCOPES

__all__ = ["authorization_server_metadata", "protected_resource_metadata", "resource_metadata_url"]


def authorization_server_metadata(issuer: str) -> dict:
    base = issuer.rstrip("/")
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "registration_endpoint": f"{base}/register",
        "revocation_endpoint": f"{base}/revoke",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": list(OFFERED_SCOPES),
    }


def protected_resource_metadata(resource: str, authorization_servers: list[str]) -> dict:
    return {
        "resource": resource,
        "authorization_servers": authorization_servers,
        "scopes_supported": list(OFFERED_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "membucket",
    }


def resource_metadata_url(origin: str, path: str) -> str:
    """Where the metadata of the resource at ``path`` lives (RFC 9728 §3.1: the path-suffixed form)."""
    return f"{origin.rstrip('/')}/.well-known/oauth-protected-resource{path if path != '/' else ''}"
