"""Errors raised by membucket's operations, each with a stable machine-readable code.

    MembucketError                      code                 HTTP
     ├── InvalidInput                   invalid_input        400
     │    ├── EmptyText                 empty_text           400
     │    ├── InvalidId                 invalid_id           400
     │    ├── InvalidUserId             invalid_user_id      400
     │    ├── InvalidAppName            invalid_app_name     400
     │    ├── InvalidState              invalid_state        400
     │    ├── InvalidMetadata           invalid_metadata     400
     │    ├── TooLarge                  too_large            413
     │    ├── BundleEncrypted           bundle_encrypted     400
     │    └── BadPassphrase             bad_passphrase       400
     ├── NotFoundError                  not_found            404
     ├── Forbidden                      forbidden            403
     │    ├── AppPaused                 app_paused           403
     │    ├── AccessDenied              access_denied        403
     │    └── OwnerOnly                 owner_only           403
     ├── BundleInvalid                  bundle_invalid       422
     │    └── BundleChecksum            bundle_checksum      422
     ├── Conflict                       conflict             409
     │    ├── IllegalTransition         illegal_transition   409
     │    ├── EmbedderMismatch          embedder_mismatch    409
     │    ├── TargetNotEmpty            target_not_empty     409
     │    ├── BackupUnusable            backup_unusable      409
     │    └── StoreFormatTooNew         store_format_too_new 409
     └── ServiceUnavailable             unavailable          503
          ├── CommitContention          commit_contention    503
          ├── StoreUnavailable          store_unavailable    503
          ├── StoreFailed               store_error          503
          └── LlmUnavailable            llm_unavailable      503

Surfaces translate these at one boundary: the CLI prints ``code: message`` and exits non-zero,
HTTP answers ``status`` with ``{"error": {"code", "message"}}``, MCP raises a tool error.
Nothing is written when one of these is raised before a commit.
"""

from __future__ import annotations

__all__ = [
    "MembucketError",
    "LlmUnavailable",
    "InvalidInput",
    "EmptyText",
    "InvalidId",
    "InvalidUserId",
    "InvalidAppName",
    "InvalidState",
    "InvalidMetadata",
    "TooLarge",
    "NotFoundError",
    "Forbidden",
    "AppPaused",
    "AccessDenied",
    "OwnerOnly",
    "Conflict",
    "IllegalTransition",
    "EmbedderMismatch",
    "TargetNotEmpty",
    "BackupUnusable",
    "StoreFormatTooNew",
    "ServiceUnavailable",
    "CommitContention",
    "StoreUnavailable",
    "StoreFailed",
    "BundleEncrypted",
    "BadPassphrase",
    "BundleInvalid",
    "BundleChecksum",
]


class MembucketError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        out: dict = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(MembucketError):
    code, status = "invalid_input", 400


class EmptyText(InvalidInput):
    code = "empty_text"


class InvalidId(InvalidInput):
    code = "invalid_id"


class InvalidUserId(InvalidInput):
    code = "invalid_user_id"


class InvalidAppName(InvalidInput):
    code = "invalid_app_name"


class InvalidState(InvalidInput):
    code = "invalid_state"


class InvalidMetadata(InvalidInput):
    code = "invalid_metadata"


class TooLarge(InvalidInput):
    code, status = "too_large", 413


class NotFoundError(MembucketError):
    code, status = "not_found", 404


class Forbidden(MembucketError):
    code, status = "forbidden", 403


class AppPaused(Forbidden):
    code = "app_paused"


class AccessDenied(Forbidden):
    code = "access_denied"


class OwnerOnly(Forbidden):
    """Rules and pause state bind apps: only the owner (no app) may change them, or an app could
    lift its own restrictions."""

    code = "owner_only"


class Conflict(MembucketError):
    code, status = "conflict", 409


class IllegalTransition(Conflict):
    code = "illegal_transition"


class EmbedderMismatch(Conflict):
    code = "embedder_mismatch"


class TargetNotEmpty(Conflict):
    """A restore would overwrite data that is there (use --force to replace it)."""

    code = "target_not_empty"


class BackupUnusable(Conflict):
    """A backup that cannot give what was asked (corrupt, unknown format, point outside its log)."""

    code = "backup_unusable"


class StoreFormatTooNew(Conflict):
    """The store holds a checkpoint format newer than this version knows: it reads and writes nothing."""

    code = "store_format_too_new"


class ServiceUnavailable(MembucketError):
    code, status = "unavailable", 503
    retry_after = 1


class CommitContention(ServiceUnavailable):
    code = "commit_contention"


class StoreUnavailable(ServiceUnavailable):
    code = "store_unavailable"


class StoreFailed(ServiceUnavailable):
    """The store refused in a way it could not classify (access denied, missing bucket, ...)."""

    code = "store_error"


class LlmUnavailable(ServiceUnavailable):
    """The configured model gave no usable answer where one is needed (recategorize)."""

    code = "llm_unavailable"


class BundleEncrypted(InvalidInput):
    """An encrypted export bundle and no passphrase to open it."""

    code = "bundle_encrypted"


class BadPassphrase(InvalidInput):
    code = "bad_passphrase"


class BundleInvalid(MembucketError):
    """An import bundle that is not a bundle: not a zip, a missing part, a row that fails the schema."""

    code, status = "bundle_invalid", 422


class BundleChecksum(BundleInvalid):
    """A part whose sha256 differs from the manifest, or an encrypted chunk that fails authentication."""

    code = "bundle_checksum"
