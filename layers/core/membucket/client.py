"""``Membucket``: settings + store + embedder, handing out one Context per (user, app).

The engine (duckdb, faiss, numpy) is imported on the first namespace a Membucket opens, not
with this module: a Lambda container that answers an MCP ``initialize`` or a token check first
never pays for it (issue 13, cold start).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from .embed.base import Embedder
from .engine.keys import list_users
from .errors import InvalidInput
from .settings import Settings
from .store import ObjectStore, open_store

if TYPE_CHECKING:
    from .categorize.base import Categorizer
    from .engine.namespace import CompactResult, Namespace, ReplicaRegistry
    from .ops.context import Context

__all__ = ["Membucket", "load_embedder", "DEFAULT"]

class _NotGiven(enum.Enum):
    DEFAULT = "default"


DEFAULT: Final = _NotGiven.DEFAULT  # "not given": pick the categorizer from settings


def load_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """The embedder ``name`` configured from ``settings`` (model directory, threads, endpoint)."""
    s = settings or Settings()
    if name in ("minilm", "local/all-MiniLM-L6-v2"):
        from .embed.minilm import MiniLMEmbedder

        return MiniLMEmbedder(s.minilm_dir, threads=s.embed_threads)
    if name == "openai":
        from .embed.openai_compat import OpenAIEmbedder

        if not (s.openai_base_url or s.openai_api_key or os.environ.get("OPENAI_API_KEY")):
            # Said at once: otherwise the client tries api.openai.com with no key and fails
            # seconds later with a bare connection error.
            raise InvalidInput(
                "embedder 'openai' is not configured: set MEMBUCKET_OPENAI_BASE_URL (an OpenAI-compatible "
                "endpoint, e.g. http://localhost:11434/v1) or MEMBUCKET_OPENAI_API_KEY (api.openai.com)"
            )

        return OpenAIEmbedder(
            s.openai_embedding_model,
            base_url=s.openai_base_url,
            api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
            dimensions=s.openai_embedding_dimensions,
            timeout=s.openai_timeout_seconds,
            max_retries=s.openai_max_retries,
        )
    raise InvalidInput(f"unknown embedder {name!r}; available: minilm, openai")


class Membucket:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: ObjectStore | None = None,
        embedder: Embedder | None = None,
        categorizer: Categorizer | None | Literal[_NotGiven.DEFAULT] = DEFAULT,
        registry: ReplicaRegistry | None = None,
        llm=None,
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        self.store = store or open_store(
            s.store, endpoint_url=s.endpoint_url, region=s.region, profile=s.profile,
            max_retries=s.store_max_retries, connect_timeout=s.store_connect_timeout,
        )
        self._embedder = embedder
        # Not given: MEMBUCKET_CATEGORIZER decides (offline zero-shot unless an LLM is configured).
        self.categorizer: Categorizer | None = _LazyCategorizer(self) if categorizer is DEFAULT else categorizer
        self._llm = llm
        self._llm_loaded = llm is not None
        self._registry = registry  # tests pass their own to act as separate processes
        self._engine_ready = False

    @property
    def registry(self) -> ReplicaRegistry:
        """The replica cache (the process-wide one unless given).

        The engine is imported here, on first use, and FAISS gets ``Settings.faiss_threads`` then
        (once per Membucket, as the constructor did before it became lazy).
        """
        if not self._engine_ready:
            from .engine.index import set_search_threads

            if self._registry is None:
                from .engine.limits import apply_limits
                from .engine.namespace import REGISTRY

                apply_limits(self.settings, REGISTRY)  # LRU bounds from the function's memory and /tmp (or Settings)
                self._registry = REGISTRY
            set_search_threads(self.settings.faiss_threads)
            self._engine_ready = True
        assert self._registry is not None
        return self._registry

    @property
    def embedder(self) -> Embedder:
        """Loaded on first use, so commands that never embed (list, state, compact) start fast."""
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.embedder, self.settings)
        return self._embedder

    @property
    def llm(self):
        """The operator's chat model (``membucket.llm.load_llm``), or None; built once, on first use."""
        if not self._llm_loaded:
            from .llm import load_llm

            self._llm = load_llm(self.settings)
            self._llm_loaded = True
        return self._llm

    def namespace(self, user: str) -> Namespace:
        from .engine.namespace import Namespace

        s = self.settings
        return Namespace(
            self.store,
            user,
            Path(s.cache_dir),
            commit_attempts=s.commit_attempts,
            commit_timeout_seconds=s.commit_timeout_seconds,
            compact_after=s.compact_after,
            compact_fraction=s.compact_fraction,
            compact_min_bytes=s.compact_min_bytes,
            retention_seconds=s.retention_seconds,
            registry=self.registry,
        )

    def context(self, user: str | None = None, app: str | None = None, *, actor: str | None = None) -> Context:
        from .ops.context import Context, app_name

        if app is not None:
            app = app_name(app)  # valid, and not one of the owner's surface labels
        return Context(
            ns=self.namespace(self.settings.user if user is None else user),
            embedder=_LazyEmbedder(self),
            settings=self.settings,
            app=app,
            categorizer=None if _off(self.categorizer) else self.categorizer,
            llm=self.llm,
            actor=actor,
        )

    def users(self) -> list[str]:
        """Every namespace in the bucket (one per user)."""
        return list_users(self.store)

    def compact(self, user: str, gc: bool = True) -> CompactResult:
        return self.namespace(user).compact(gc=gc)


class _LazyEmbedder:
    """Defers loading model weights until a text actually needs embedding."""

    def __init__(self, owner: Membucket) -> None:
        self._owner = owner

    @property
    def id(self) -> str:
        return self._owner.embedder.id

    @property
    def dim(self) -> int:
        return self._owner.embedder.dim

    def embed(self, texts):
        return self._owner.embedder.embed(texts)


def _off(categorizer) -> bool:
    return isinstance(categorizer, _LazyCategorizer) and categorizer.off


class _LazyCategorizer:
    """The settings' categorizer, built on first use (an LLM client or prototype vectors cost time)."""

    def __init__(self, owner: Membucket) -> None:
        self._owner = owner
        self._loaded: Categorizer | None = None

    @property
    def off(self) -> bool:
        return self._owner.settings.categorizer == "off"

    def resolve(self) -> Categorizer | None:
        if self._loaded is None:
            from .categorize.factory import load_categorizer

            self._loaded = load_categorizer(self._owner.settings, _LazyEmbedder(self._owner))
        return self._loaded

    def __call__(self, text, vector, **kwargs):
        cat = self.resolve()
        return [] if cat is None else cat(text, vector, **kwargs)
