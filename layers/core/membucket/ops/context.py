"""Who is asking, about which namespace: the one argument every operation takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..categorize.base import Categorizer
from ..embed.base import Embedder
from ..engine.namespace import Namespace
from ..engine.operations import Init, Operation
from ..settings import Settings

__all__ = ["Context", "Categorizer", "check_embedder", "init_ops"]


@dataclass
class Context:
    ns: Namespace
    embedder: Embedder
    settings: Settings
    app: str | None = None  # None: the namespace owner (CLI admin, UI): no rules, no access log
    categorizer: Categorizer | None = None
    llm: Any = None  # membucket.llm.Llm when the operator configured one: infer extracts facts with it
    actor: str | None = None  # who acts when ``app`` is None (the CLI's app name): history names it

    @property
    def who(self) -> str | None:
        """The name history records for this caller's changes: its app, else its actor."""
        return self.app if self.app is not None else self.actor

    @property
    def user(self) -> str:
        return self.ns.user

    def embed_one(self, text: str) -> np.ndarray:
        return self.embedder.embed([text])[0]


def check_embedder(ctx: Context, rep) -> None:
    """Refuse to mix vectors of two models in one namespace."""
    from ..errors import EmbedderMismatch

    if rep.embedder is not None and (rep.embedder != ctx.embedder.id or rep.dim != ctx.embedder.dim):
        raise EmbedderMismatch(
            f"namespace {ctx.user!r} was written with embedder {rep.embedder} ({rep.dim}-d); "
            f"this server uses {ctx.embedder.id} ({ctx.embedder.dim}-d). Run `membucket reindex` to switch, "
            "or configure this server with the namespace's embedder (MEMBUCKET_EMBEDDER).",
            namespace_embedder=rep.embedder,
            embedder=ctx.embedder.id,
        )


def init_ops(ctx: Context, rep) -> list[Operation]:
    """The first commit of a namespace records its embedder id and dimension."""
    if rep.embedder is None:
        return [Init(embedder=ctx.embedder.id, dim=ctx.embedder.dim)]
    return []
