"""Errors every ObjectStore backend raises, mapped inside the backend.

    StoreError
     ├── NotFound              GET/HEAD/COPY of a key that does not exist (DELETE of a missing key is not an error)
     ├── NotModified           conditional GET: the object still has the ETag the caller holds
     ├── PreconditionFailed    If-None-Match '*' on an existing key, or If-Match with a stale/missing ETag (HTTP 412)
     ├── ConflictInFlight      a conflicting conditional write is in progress (HTTP 409): retry the SAME request
     ├── Unavailable           throttling, 5xx, timeouts, connection errors, after the transport's own retries;
     │                         after a put, the outcome is unknown (the write may have landed)
     ├── Misconfigured         the store cannot be used as configured (no credentials, unknown profile)
     └── InvalidKey            (also a ValueError) a key or prefix that could escape its prefix or directory

A failure a backend cannot classify (access denied, missing bucket, ...) is raised as a plain
StoreError, chained (``from``) to the backend's own exception.

The engine decides what a PreconditionFailed or ConflictInFlight means (another writer won, or
try again); the store only reports them faithfully.
"""

from __future__ import annotations

__all__ = [
    "StoreError",
    "NotFound",
    "NotModified",
    "PreconditionFailed",
    "ConflictInFlight",
    "Unavailable",
    "InvalidKey",
    "Misconfigured",
]


class StoreError(Exception):
    """Base class of object-store errors."""


class NotFound(StoreError):
    """The requested key does not exist."""


class NotModified(StoreError):
    """Conditional GET: the object's ETag still equals the one given."""


class PreconditionFailed(StoreError):
    """A conditional write lost: the key exists (If-None-Match) or its ETag changed (If-Match)."""


class ConflictInFlight(StoreError):
    """Another conditional write to the same key is in flight (S3 409); retry the same request."""


class Unavailable(StoreError):
    """The store could not be reached or refused for load (throttling, 5xx, timeout)."""


class Misconfigured(StoreError):
    """The store cannot be reached as configured (no credentials, unknown profile): retrying will
    not help; the message names what to set."""


class InvalidKey(StoreError, ValueError):
    """A key that is empty, absolute, or contains '..', backslashes or control characters."""
