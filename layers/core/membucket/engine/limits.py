"""How much of the machine the replica caches may use: memory for warm replicas, disk for files.

In Lambda the bounds come from the function itself: ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` (what the
process may use before it is killed) and the ephemeral storage behind ``/tmp``
(``Settings.ephemeral_storage_mb``, the template's ``EphemeralStorage``). What the runtime, the
libraries and the model take is set aside first; replicas get half of the rest, so a request's own
working set (a search, an import) still fits. Elsewhere, Settings' own limits apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import Settings
from . import objcache

if TYPE_CHECKING:
    from .namespace import ReplicaRegistry

__all__ = ["CacheLimits", "cache_limits", "apply_limits", "RUNTIME_MB", "TMP_RESERVED_MB"]

MB = 1 << 20
RUNTIME_MB = 450  # python + duckdb + faiss + onnxruntime + the model, measured at ~400 MB RSS idle
TMP_RESERVED_MB = 160  # the model files (~91 MB when fetched from the bucket) and request spools


@dataclass(frozen=True)
class CacheLimits:
    max_replicas: int
    replica_bytes: int
    disk_bytes: int


def cache_limits(settings: Settings, environ: dict[str, str] | None = None) -> CacheLimits:
    env = os.environ if environ is None else environ
    lambda_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if settings.replica_memory_mb is not None:
        replica_mb = settings.replica_memory_mb
    elif lambda_mb and lambda_mb.isdigit():
        replica_mb = max(64, (int(lambda_mb) - RUNTIME_MB) // 2)
    else:
        replica_mb = 1024
    if settings.cache_disk_mb is not None:
        disk_mb = settings.cache_disk_mb
    elif env.get("AWS_LAMBDA_FUNCTION_NAME"):
        disk_mb = max(32, (settings.ephemeral_storage_mb - TMP_RESERVED_MB) * 3 // 4)
    else:
        disk_mb = 2048
    return CacheLimits(max_replicas=settings.max_replicas, replica_bytes=replica_mb * MB, disk_bytes=disk_mb * MB)


def apply_limits(settings: Settings, registry: ReplicaRegistry) -> CacheLimits:
    """Bound ``registry`` (a ReplicaRegistry) and the checkpoint-file cache by ``settings``."""
    limits = cache_limits(settings)
    registry.configure(max_replicas=limits.max_replicas, max_bytes=limits.replica_bytes)
    objcache.set_budget(limits.disk_bytes)
    return limits
