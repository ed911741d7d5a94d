"""Bearer tokens: who is calling (user, app, scopes). Only hashes are stored, in the bucket."""

from .identity import SCOPES, Identity
from .tokens import InvalidToken, TokenInfo, TokenStore

__all__ = ["SCOPES", "Identity", "InvalidToken", "TokenInfo", "TokenStore"]
