"""Build a Membucket over any store with a fresh replica registry (a separate 'process')."""

from __future__ import annotations

from pathlib import Path

from membucket import Membucket, Settings
from membucket.engine.namespace import ReplicaRegistry

from .embedders import HashEmbedder


def make_mb(store_url: str, cache_dir: Path, *, embedder=None, store=None, categorizer=None, **settings) -> Membucket:
    """A Membucket with private replicas, as a separate process or Lambda container would have.

    No categorizer unless given (``membucket.client.DEFAULT`` picks the settings' one), so tests
    that look at categories see only the ones they wrote. Categories a write leaves pending are
    filled inline unless a test asks for the background thread (``categorize_async=True``), so
    no thread races a test for its categorizer.
    """
    settings.setdefault("categorize_async", False)
    return Membucket(
        Settings(store=store_url, cache_dir=str(cache_dir), **settings),
        store=store,
        embedder=embedder or HashEmbedder(),
        categorizer=categorizer,
        registry=ReplicaRegistry(),
    )
