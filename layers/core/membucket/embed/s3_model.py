"""The offline model kept in the bucket, for Lambda: published once, fetched to ``/tmp`` on first embed.

With ``Settings.model_url`` set (``s3://bucket/prefix/models/all-MiniLM-L6-v2``), the weights are
fetched on the first embed of a container, checked against the manifest ``publish_model`` wrote,
and loaded from there. Functions that never embed (state, list) never fetch. This keeps the
function's zip under Lambda's 250 MB limit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

from ..store import NotFound, ObjectStore
from .base import EmbedderUnavailable
from .minilm import MODEL_ID, MiniLMEmbedder

__all__ = ["publish_model", "fetch_model", "S3ModelEmbedder", "MODEL_FILES"]

MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
MANIFEST = "manifest.json"

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish_model(model_dir: Path | str, store: ObjectStore) -> dict:
    """Upload the model files and their manifest (sizes, sha256) to ``store``; return the manifest."""
    model_dir = Path(model_dir)
    manifest = {"files": {n: {"size": (model_dir / n).stat().st_size, "sha256": _sha256(model_dir / n)} for n in MODEL_FILES}}
    for name in MODEL_FILES:
        store.put(name, (model_dir / name).read_bytes())
    store.put(MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def fetch_model(store: ObjectStore, dest: Path | str) -> Path:
    """Download the model into ``dest`` unless it is already there intact; return ``dest``.

    Raises EmbedderUnavailable when the bucket has no model or a file does not match the manifest.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        manifest = json.loads(store.get(MANIFEST).body)
    except NotFound:
        raise EmbedderUnavailable(f"no model at {store.url}: run infra/publish_model.py first") from None
    for name, want in manifest["files"].items():
        path = dest / name
        if path.is_file() and path.stat().st_size == want["size"] and (dest / f".{name}.ok").is_file():
            continue
        download = getattr(store, "download", None)
        if download is not None:
            download(name, path)
        else:
            path.write_bytes(store.get(name).body)
        if path.stat().st_size != want["size"] or _sha256(path) != want["sha256"]:
            path.unlink()
            raise EmbedderUnavailable(f"model file {name} from {store.url} does not match its manifest")
        (dest / f".{name}.ok").touch()
    return dest


class S3ModelEmbedder:
    """all-MiniLM-L6-v2 whose weights are fetched from the bucket on the first embed of a container."""

    def __init__(self, store: ObjectStore, dest: Path, threads: int | None = None) -> None:
        self.id, self.dim = MODEL_ID, MiniLMEmbedder.dim
        self._store, self._dest, self._threads = store, dest, threads
        self._inner: MiniLMEmbedder | None = None
        self._lock = threading.Lock()
        self.fetch_seconds: float | None = None

    def _model(self) -> MiniLMEmbedder:
        with self._lock:
            if self._inner is None:
                start = time.perf_counter()
                path = fetch_model(self._store, self._dest)
                self._inner = MiniLMEmbedder(path, threads=self._threads).load()
                self.fetch_seconds = time.perf_counter() - start
                log.info("model ready", extra={"model": self.id, "seconds": round(self.fetch_seconds, 3)})
            return self._inner

    def embed(self, texts):
        return self._model().embed(texts)
