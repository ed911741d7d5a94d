"""OAuth 2.1 for MCP clients: dynamic registration, authorization code + PKCE, rotating refresh
tokens, resource-bound access tokens; every piece of state is a small object in the bucket."""

from .clients import Client, ClientRegistry
from .codes import AuthorizationCodes
from .errors import OAuthError
from .grants import AccessGrant, Grant, GrantStore, Issued
from .metadata import (
    authorization_server_metadata,
    protected_resource_metadata,
    resource_metadata_url,
)
from .server import AuthorizationServer, AuthRequest, OAuthConfig, RedirectError

__all__ = [
    "AccessGrant", "AuthRequest", "AuthorizationCodes", "AuthorizationServer", "Client", "ClientRegistry", "Grant",
    "GrantStore", "Issued", "OAuthConfig", "OAuthError", "RedirectError", "authorization_server_metadata",
    "protected_resource_metadata", "resource_metadata_url",
]
