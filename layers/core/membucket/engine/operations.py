"""The operations a log entry carries: one type per operation, built by ops/, applied by replay.

A log entry's ``ops`` is a list of JSON objects, each named by its ``"op"`` key. This module is
the one place that shape is written: every writer builds an operation with a constructor here
and commits it (engine/namespace.py turns it into its dict with ``to_dict``), and replay turns
each committed dict back into its type with ``parse_op`` and dispatches on the type.

``to_dict`` gives exactly the bytes writers have always committed: the same keys, in the same
order, optional keys left out when unset. So entries already in a bucket parse, and new ones
read the same to older code. Fields a writer may leave out are ``None`` by default; replay
treats a missing key and ``None`` alike, as it always has. A field with a default may be
missing from a committed dict; one without is required (parse raises KeyError, as replay did).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, ClassVar

__all__ = [
    "Operation", "parse_op", "op_name", "OP_TYPES", "ACL_OPS", "UnknownOperation",
    "Init", "EmbedderSwitch", "NamespaceRestore",
    "MemoryAdd", "MemoryUpdate", "MemoryState", "MemoryPending", "MemoryImport", "MemoryPurge",
    "AppUpsert", "AppState", "AppImport", "AppPurge",
    "RuleAdd", "RuleDelete", "RuleImport",
    "CategoryDefine", "CategoryDelete",
]


_SHAPES: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def _shape(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """(field names in wire order, the names a committed dict must have); replay parses every op."""
    shape = _SHAPES.get(cls)
    if shape is None:
        fs = fields(cls)
        shape = _SHAPES[cls] = (tuple(f.name for f in fs), frozenset(f.name for f in fs if f.default is MISSING))
    return shape


@dataclass(frozen=True)
class Operation:
    """One operation of a log entry. Subclasses name it (``OP``) and list its fields in wire order."""

    OP: ClassVar[str] = ""
    # Fields written only when set (not None); every other field is always written.
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    # True for operations that change apps or access rules (cached visibility must be dropped).
    ACL: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.OP}
        for name in _shape(type(self))[0]:
            value = getattr(self, name)
            if value is None and name in self.OPTIONAL:
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Operation:
        """The operation a committed dict holds; a required key missing is a KeyError (a bad entry)."""
        names, required = _shape(cls)
        kwargs = {name: doc[name] for name in names if name in doc}
        if not required <= kwargs.keys():
            raise KeyError(f"{cls.OP} op without {sorted(required - kwargs.keys())}")
        return cls(**kwargs)


# -- the namespace ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Init(Operation):
    """The first commit of a namespace: the embedder its vectors come from."""

    OP: ClassVar[str] = "init"
    embedder: str
    dim: int


@dataclass(frozen=True, kw_only=True)
class EmbedderSwitch(Operation):
    """Every vector replaced by one of another embedder (engine/reindex.py has the pack format)."""

    OP: ClassVar[str] = "embedder.switch"
    embedder: str
    dim: int
    vectors_key: str | None = None
    sha256: str | None = None
    inline: dict[str, list[str]] | None = None


@dataclass(frozen=True, kw_only=True)
class NamespaceRestore(Operation):
    """The whole state replaced by a checkpoint at this entry's sequence (``membucket restore --force``)."""

    OP: ClassVar[str] = "namespace.restore"
    checkpoint: str
    backup: str | None = None
    source_seq: int | None = None


# -- memories -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class MemoryAdd(Operation):
    """A new memory with its vector (base64 float32, engine/log.encode_vector)."""

    OP: ClassVar[str] = "memory.add"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"state", "created_at", "updated_at", "archived_at", "deleted_at"})
    id: str
    text: str
    hash: str
    vector: str
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None
    app: str | None = None
    # Read by replay if present; no writer sets them today.
    state: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    archived_at: str | None = None
    deleted_at: str | None = None


@dataclass(frozen=True, kw_only=True)
class MemoryUpdate(Operation):
    """Changed fields of one memory; new text comes with its hash and vector."""

    OP: ClassVar[str] = "memory.update"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"text", "hash", "vector", "metadata", "categories"})
    id: str
    text: str | None = None
    hash: str | None = None
    vector: str | None = None
    metadata: dict[str, Any] | None = None
    categories: list[str] | None = None

    def without_categories(self) -> MemoryUpdate:
        return replace(self, categories=None)


@dataclass(frozen=True, kw_only=True)
class MemoryState(Operation):
    """Memories moved to ``state`` (active, paused, archived, deleted)."""

    OP: ClassVar[str] = "memory.state"
    ids: list[str]
    state: str


@dataclass(frozen=True, kw_only=True)
class MemoryPending(Operation):
    """Memories whose categories a follow-up commit (or maintenance) still has to fill."""

    OP: ClassVar[str] = "memory.pending"
    ids: list[str]


@dataclass(frozen=True, kw_only=True)
class MemoryImport(Operation):
    """Rows of content-addressed parts (engine/blobs.py), optionally only ``ids`` of them."""

    OP: ClassVar[str] = "memory.import"
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"history_parts", "ids"})
    parts: list[dict[str, Any]]
    history_parts: list[dict[str, Any]] | None = None
    ids: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        # Writers always write every key, ``"ids": null`` included (all rows of the parts).
        return {"op": self.OP, "parts": self.parts, "history_parts": self.history_parts, "ids": self.ids}


@dataclass(frozen=True, kw_only=True)
class MemoryPurge(Operation):
    """Hard removal of memories, their history and index entries (import in replace mode)."""

    OP: ClassVar[str] = "memory.purge"
    ids: list[str]


# -- apps and rules -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AppUpsert(Operation):
    OP: ClassVar[str] = "app.upsert"
    ACL: ClassVar[bool] = True
    name: str


@dataclass(frozen=True, kw_only=True)
class AppState(Operation):
    OP: ClassVar[str] = "app.state"
    ACL: ClassVar[bool] = True
    name: str
    paused: bool


@dataclass(frozen=True, kw_only=True)
class AppImport(Operation):
    OP: ClassVar[str] = "app.import"
    ACL: ClassVar[bool] = True
    name: str
    paused: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True, kw_only=True)
class AppPurge(Operation):
    OP: ClassVar[str] = "app.purge"
    ACL: ClassVar[bool] = True
    names: list[str]


@dataclass(frozen=True, kw_only=True)
class RuleAdd(Operation):
    OP: ClassVar[str] = "rule.add"
    ACL: ClassVar[bool] = True
    id: str
    app: str
    effect: str
    scope: str
    target: str | None = None


@dataclass(frozen=True, kw_only=True)
class RuleDelete(Operation):
    OP: ClassVar[str] = "rule.delete"
    ACL: ClassVar[bool] = True
    id: str


@dataclass(frozen=True, kw_only=True)
class RuleImport(Operation):
    OP: ClassVar[str] = "rule.import"
    ACL: ClassVar[bool] = True
    id: str
    app: str
    effect: str
    scope: str
    target: str | None = None
    created_at: str


# -- user-defined categories --------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CategoryDefine(Operation):
    OP: ClassVar[str] = "category.define"
    name: str
    description: str


@dataclass(frozen=True, kw_only=True)
class CategoryDelete(Operation):
    OP: ClassVar[str] = "category.delete"
    name: str


_TYPES: dict[str, type[Operation]] = {
    cls.OP: cls
    for cls in (
        Init, EmbedderSwitch, NamespaceRestore,
        MemoryAdd, MemoryUpdate, MemoryState, MemoryPending, MemoryImport, MemoryPurge,
        AppUpsert, AppState, AppImport, AppPurge, RuleAdd, RuleDelete, RuleImport,
        CategoryDefine, CategoryDelete,
    )
}
OP_TYPES = frozenset(_TYPES)
ACL_OPS = frozenset(name for name, cls in _TYPES.items() if cls.ACL)  # ops that change apps or rules


class UnknownOperation(ValueError):
    """A committed op this version does not know; replay stops rather than skip it."""


def op_name(doc: dict[str, Any]) -> str | None:
    """The ``"op"`` of a committed dict, without parsing the rest."""
    return doc.get("op")


def parse_op(doc: dict[str, Any]) -> Operation:
    cls = _TYPES.get(doc.get("op"))  # type: ignore[arg-type]
    if cls is None:
        raise UnknownOperation(f"unknown log operation {str(doc.get('op'))[:80]!r}")
    return cls.from_dict(doc)
