"""The offline model kept in the bucket, for Lambda: published once, fetched to ``/tmp`` on first embed.

With ``Settings.model_url`` set (``s3://bucket/prefix/models/all-MiniLM-L6-v2``), the weights are
fetched on the first embed of a container, checked against the manifest ``publish_model`` wrote,
and loaded from there. Functions that never embed (state, list) never fetch. This keeps the
function's zip under Lambda's 250 MB limit.

``publish_model`` also writes smaller weight files converted at publish time (``embed.quantize``):
a container fetches only the one ``Settings.model_precision`` names (int8: 23 MB instead of
91 MB, LoCoMo recall within the issue's 0.5 points, bench/README.md). A bucket published before
those files existed has only fp32, which is then used, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..store import NotFound, ObjectStore
from .base import EmbedderUnavailable
from .quantize import WEIGHTS_FILES

if TYPE_CHECKING:
    from .minilm import MiniLMEmbedder

__all__ = ["publish_model", "fetch_model", "S3ModelEmbedder", "MODEL_FILES", "PUBLISHED_PRECISIONS"]

MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
PUBLISHED_PRECISIONS = ("fp32", "fp16", "int8")
MANIFEST = "manifest.json"

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def publish_model(model_dir: Path | str, store: ObjectStore, precisions: Iterable[str] = PUBLISHED_PRECISIONS) -> dict:
    """Upload the fp32 model files, the converted weights of ``precisions``, and their manifest
    (sizes, sha256, the weights file of each precision) to ``store``; return the manifest."""
    from .quantize import convert

    model_dir = Path(model_dir)
    with tempfile.TemporaryDirectory(prefix="membucket-model-") as tmp:
        paths = {n: model_dir / n for n in MODEL_FILES}
        for precision in precisions:
            if precision != "fp32":
                name = WEIGHTS_FILES[precision]
                paths[name] = convert(model_dir / WEIGHTS_FILES["fp32"], Path(tmp) / name, precision)
        manifest = {
            "files": {n: {"size": p.stat().st_size, "sha256": _sha256(p)} for n, p in paths.items()},
            "precisions": {p: WEIGHTS_FILES[p] for p in ("fp32", *precisions)},
        }
        for name, path in paths.items():
            store.put(name, path.read_bytes())
    store.put(MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def _weights_name(manifest: dict, precision: str, url: str) -> str:
    name = manifest.get("precisions", {}).get(precision)
    if name is None:
        log.warning("model precision not published, using fp32", extra={"precision": precision, "model": url})
        return WEIGHTS_FILES["fp32"]
    return str(name)


def fetch_model(store: ObjectStore, dest: Path | str, precision: str | None = None) -> Path:
    """Download the model into ``dest`` unless it is already there intact; return ``dest``.

    ``precision`` (fp32, fp16, int8) fetches the config, the tokenizer and that precision's
    weights only (fp32 when the bucket has no such file); None fetches every file published.
    Raises EmbedderUnavailable when the bucket has no model or a file does not match the manifest.
    """
    return _fetch(store, dest, precision)[0]


def _fetch(store: ObjectStore, dest: Path | str, precision: str | None) -> tuple[Path, str]:
    """``fetch_model``, also naming the weights file fetched."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        manifest = json.loads(store.get(MANIFEST).body)
    except NotFound:
        raise EmbedderUnavailable(f"no model at {store.url}: run infra/publish_model.py first") from None
    files = manifest["files"]
    weights = WEIGHTS_FILES["fp32"]
    if precision is not None:
        weights = _weights_name(manifest, precision, store.url)
        files = {n: w for n, w in files.items() if n in {*MODEL_FILES[:2], weights}}
    for name, want in files.items():
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
    return dest, weights


class S3ModelEmbedder:
    """all-MiniLM-L6-v2 whose weights are fetched from the bucket on the first embed of a container."""

    def __init__(self, store: ObjectStore, dest: Path, threads: int | None = None, precision: str = "fp32") -> None:
        # minilm's MODEL_ID and dim, spelled here so that building the embedder imports no numpy
        self.id, self.dim = "local/all-MiniLM-L6-v2", 384
        self._store, self._dest, self._threads, self.precision = store, dest, threads, precision
        self._inner: MiniLMEmbedder | None = None
        self._lock = threading.Lock()
        self.fetch_seconds: float | None = None

    def _model(self) -> MiniLMEmbedder:
        from .minilm import MiniLMEmbedder

        with self._lock:
            if self._inner is None:
                start = time.perf_counter()
                path, weights = _fetch(self._store, self._dest, self.precision)
                self._inner = MiniLMEmbedder(path, threads=self._threads, weights=weights).load()
                self.fetch_seconds = time.perf_counter() - start
                log.info("model ready", extra={"model": self.id, "weights": weights, "seconds": round(self.fetch_seconds, 3)})
            return self._inner

    def embed(self, texts):
        return self._model().embed(texts)
