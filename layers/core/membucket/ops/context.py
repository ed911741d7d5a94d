"""Who is asking, about which namespace: the one argument every operation takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..categorize.base import Categorizer
from ..embed.base import Embedder
from ..engine.keys import validate_app_name
from ..engine.namespace import Namespace
from ..engine.operations import Init, Operation
from ..errors import InvalidAppName
from ..settings import Settings

__all__ = ["Context", "Categorizer", "check_embedder", "init_ops", "app_name", "WEB_UI", "REST_API", "OWNER_SURFACES"]

# The owner's surfaces on a server: what the owner adds there is labelled with one of these (the
# memory's "app", history's actor) so it says where it came from. They are labels, not apps: the
# owner's Context keeps ``app=None``, so no rule, pause or access log ever applies to it.
WEB_UI = "web-ui"
REST_API = "rest-api"
OWNER_SURFACES = (WEB_UI, REST_API)


def app_name(name: str) -> str:
    """A valid name an app may have: not one of the owner's surface labels (an app named so
    would pass for the owner in listings, and pausing it would seem to pause the owner)."""
    name = validate_app_name(name)
    if name in OWNER_SURFACES:
        raise InvalidAppName(f"{name!r} labels what the owner adds through the {'web UI' if name == WEB_UI else 'REST API'}; "
                             "it is not an app: no app may use that name, and the owner cannot be paused", app=name)
    return name


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
    def creator(self) -> str | None:
        """The name a new memory is labelled with: its app, else the owner's surface (or none)."""
        if self.app is not None:
            return self.app
        return self.actor if self.actor in OWNER_SURFACES else None

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
