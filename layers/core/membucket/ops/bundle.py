"""Reading import bundles: membucket's own export, or OpenMemory's, validated before any write.

Both formats become one normalized view (``Bundle``): memories as dicts with every field (the
vector, when the bundle carries one, as float32), history rows, apps and rules. ``validate()``
reads every part once: checksums against the manifest, JSON, ids, states, times, categories,
metadata, vector sizes. Any failure is ``BundleInvalid`` (or ``BundleChecksum``) naming the part
and line, and nothing has been written yet.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ..engine.keys import validate_app_name, validate_memory_id
from ..engine.log import format_ts, parse_ts
from ..errors import BundleChecksum, BundleInvalid, MembucketError
from ..settings import Settings
from .export import FORMAT, PARTS, SCHEMA_VERSION
from .validate import clean_categories, clean_metadata, clean_state, clean_text, text_hash

__all__ = ["Bundle", "open_bundle"]

_EVENTS = ("add", "update", "state", "import")
MAX_LINE = 4 << 20  # bytes: a row holds at most ~16k characters of text, 16 KiB of metadata and a vector
MAX_ENTRIES = 64  # zip members: a membucket bundle has 6, an OpenMemory export 2
MAX_DOCUMENT = 128 << 20  # manifest.json / OpenMemory's memories.json, parsed whole
_OM_NS = uuid.UUID("6f1d8a4e-5b7c-4d1e-9a3f-0c2b7e8d9f10")  # ids for OpenMemory rows that have none


_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def _ts(value: Any, what: str) -> str:
    """A time in the engine's canonical form (what exports write: checked by pattern, fast)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is not a time")
    if _CANONICAL_TS.fullmatch(value):
        datetime.fromisoformat(value[:-1])  # the shape is not enough: "2024-02-30..." would break replay
        return value
    try:
        return format_ts(parse_ts(value))
    except OverflowError:  # a zone offset pushing the time past year 1 or 9999
        raise ValueError(f"{what} is out of range") from None


def _opt_ts(value: Any, what: str) -> str | None:
    return None if value in (None, "") else _ts(value, what)


@dataclass
class Bundle:
    """One bundle, normalized. ``memories()`` and ``history()`` re-read the zip each call."""

    zf: zipfile.ZipFile
    format: str  # "membucket" | "openmemory"
    settings: Settings
    embedder: str | None = None
    dim: int | None = None
    manifest: dict = field(default_factory=dict)
    apps: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)
    count: int = 0
    _om: dict | None = None
    notes: list[str] = field(default_factory=list)
    without_vector: int = 0  # memories that carry no vector (validate() counts them)

    @property
    def _openmemory(self) -> dict[str, Any]:
        """The converted OpenMemory export (``_om``), read when the bundle was opened."""
        assert self._om is not None, "only an OpenMemory bundle reads it, and opening one sets it"
        return self._om

    # -- the rows ---------------------------------------------------------------------------
    def memories(self) -> Iterator[dict]:
        if self.format == "openmemory":
            yield from self._om_memories()
            return
        for n, doc in self._lines("memories.jsonl"):
            yield self._memory(doc, f"memories.jsonl line {n}")

    def history(self) -> Iterator[dict]:
        if self.format == "openmemory":
            yield from self._openmemory["history"]
            return
        for n, doc in self._lines("history.jsonl"):
            yield self._history(doc, f"history.jsonl line {n}")

    def _lines(self, name: str) -> Iterator[tuple[int, dict]]:
        """Parsed lines; a line longer than MAX_LINE (no row is that long) is refused, not buffered."""
        with self.zf.open(name) as raw:
            n = 0
            while True:
                line = raw.readline(MAX_LINE + 1)
                if not line:
                    return
                n += 1
                if len(line) > MAX_LINE:
                    raise BundleInvalid(f"{name} line {n}: longer than {MAX_LINE} bytes")
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except ValueError as exc:
                    raise BundleInvalid(f"{name} line {n}: not JSON ({exc})") from None
                if not isinstance(doc, dict):
                    raise BundleInvalid(f"{name} line {n}: not a JSON object")
                yield n, doc

    def _memory(self, d: dict, where: str) -> dict:
        s = self.settings
        try:
            text = clean_text(d.get("text"), s)
            row: dict[str, Any] = {
                "id": validate_memory_id(d.get("id")), "text": text, "hash": text_hash(text),
                "state": clean_state(d.get("state")), "app": validate_app_name(d["app"]) if d.get("app") else None,
                "categories": clean_categories(d.get("categories") or [], s), "metadata": clean_metadata(d.get("metadata"), s),
                "created_at": _ts(d.get("created_at"), "created_at"), "updated_at": _ts(d.get("updated_at"), "updated_at"),
                "archived_at": _opt_ts(d.get("archived_at"), "archived_at"), "deleted_at": _opt_ts(d.get("deleted_at"), "deleted_at"),
                "vector": None,
            }
            if d.get("vector") is not None:
                vec = np.frombuffer(base64.b64decode(d["vector"], validate=True), dtype="<f4")
                if vec.shape[0] != self.dim or not np.isfinite(vec).all():
                    raise ValueError(f"vector has {vec.shape[0]} finite values, the manifest says {self.dim}")
                if abs(float(np.linalg.norm(vec.astype(np.float64))) - 1.0) > 1e-3:  # embedders give unit vectors; scores assume it
                    raise ValueError("vector is not L2-normalized")
                row["vector"] = vec
        except (MembucketError, ValueError, TypeError, KeyError) as exc:
            raise BundleInvalid(f"{where}: {getattr(exc, 'message', exc)}") from None
        return row

    def _history(self, d: dict, where: str) -> dict:
        try:
            event = d.get("event")
            if event not in _EVENTS:
                raise ValueError(f"unknown history event {str(event)[:20]!r}")
            for k in ("old_state", "new_state"):
                if d.get(k) is not None:
                    clean_state(d[k])
            for k, limit in (("old_text", self.settings.max_text_chars), ("new_text", self.settings.max_text_chars), ("actor", 256)):
                if d.get(k) is not None and not isinstance(d[k], str):
                    raise ValueError(f"{k} must be a string")
                if d.get(k) is not None and len(d[k]) > limit:  # a memory's texts were capped when written; parts hold 20k rows
                    raise ValueError(f"{k} is longer than {limit} characters")
            return {
                "memory_id": validate_memory_id(d.get("memory_id")), "event": event, "old_state": d.get("old_state"),
                "new_state": d.get("new_state"), "old_text": d.get("old_text"), "new_text": d.get("new_text"),
                "actor": d.get("actor"), "changed_at": _ts(d.get("changed_at"), "changed_at"),
            }
        except (MembucketError, ValueError, TypeError) as exc:
            raise BundleInvalid(f"{where}: {getattr(exc, 'message', exc)}") from None

    # -- validation -------------------------------------------------------------------------
    def validate(self, progress=None, summarize=None) -> dict[str, Any]:
        """Read everything once; raise before any write if anything is off.

        Returns ``{id: summarize(row)}`` for every memory (``None`` values without ``summarize``),
        so the importer decides what to write without another pass over the bundle.
        """
        progress = progress or (lambda *a: None)
        if self.format == "membucket":
            for name in PARTS:
                want = self.manifest["parts"][name]
                h = hashlib.sha256()
                with self.zf.open(name) as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                if h.hexdigest() != want.get("sha256"):
                    raise BundleChecksum(f"{name} does not match the sha256 in the manifest")
            self.apps = [self._app(d, f"apps.jsonl line {n}") for n, d in self._lines("apps.jsonl")]
            self.rules = [self._rule(d, f"rules.jsonl line {n}") for n, d in self._lines("rules.jsonl")]
        seen: dict[str, Any] = {}
        for row in self.memories():
            if row["id"] in seen:
                raise BundleInvalid(f"memory {row['id']} appears twice")
            seen[row["id"]] = summarize(row) if summarize else None
            self.without_vector += row["vector"] is None
            if len(seen) % 5000 == 0:
                progress("validate", len(seen), self.count or None)
        for _row in self.history():
            pass  # parsed and checked row by row
        if self.format == "membucket" and len(seen) != self.manifest["counts"].get("memories"):
            raise BundleInvalid(f"{len(seen)} memories, the manifest says {self.manifest['counts'].get('memories')}")
        self.count = len(seen)
        progress("validate", self.count, self.count)
        return seen

    def _app(self, d: dict, where: str) -> dict:
        try:
            if not isinstance(d.get("paused"), bool):
                raise ValueError("paused must be true or false")
            return {"name": validate_app_name(d.get("name")), "paused": d["paused"],
                    "created_at": _ts(d.get("created_at"), "created_at"), "updated_at": _ts(d.get("updated_at"), "updated_at")}
        except (MembucketError, ValueError, TypeError) as exc:
            raise BundleInvalid(f"{where}: {getattr(exc, 'message', exc)}") from None

    def _rule(self, d: dict, where: str) -> dict:
        from .apps import EFFECTS, SCOPES

        try:
            app = d.get("app")
            if app != "*":
                app = validate_app_name(app)
            if d.get("effect") not in EFFECTS or d.get("scope") not in SCOPES:
                raise ValueError("effect or scope is not one membucket knows")
            target = d.get("target")
            if d["scope"] == "memory":
                target = validate_memory_id(target)
            elif d["scope"] == "category":
                target = clean_categories([target], self.settings)[0]
            else:
                target = None
            return {"id": validate_memory_id(d.get("id")), "app": app, "effect": d["effect"], "scope": d["scope"],
                    "target": target, "created_at": _ts(d.get("created_at"), "created_at")}
        except (MembucketError, ValueError, TypeError, IndexError) as exc:
            raise BundleInvalid(f"{where}: {getattr(exc, 'message', exc)}") from None

    # -- OpenMemory -------------------------------------------------------------------------
    def _load_openmemory(self) -> None:
        """OpenMemory's export: ``memories.json`` (authoritative) or else ``memories.jsonl.gz``.

        Mapping (OpenMemory -> membucket):
        - apps: ``app_id`` -> the app's ``name``; ``is_active: false`` -> a paused app.
        - memories: ``content`` -> text; state, created/updated/archived/deleted times kept;
          ``category_ids`` (or ``memory_categories``) -> category names.
        - ``status_history`` -> state events (actor: ``changed_by``), after a synthetic ``add``
          event at ``created_at`` (membucket's history starts with one).
        - ``access_controls`` (subject app, object memory/app/category, effect allow/deny) ->
          rules: subject_type ``app`` only; object ``memory`` -> scope memory, ``category`` ->
          scope category (id or name), anything else (``app``, ``all``, none) -> scope all.
          Entries that do not fit (other subjects, unknown apps or effects) are skipped and
          listed in ``notes``.
        - vectors: none travel; every memory is embedded with the current embedder.
        """
        names = set(self.zf.namelist())
        if "memories.json" in names:
            if self.zf.getinfo("memories.json").file_size > MAX_DOCUMENT:
                raise BundleInvalid(f"memories.json is above {MAX_DOCUMENT} bytes; export OpenMemory's memories.jsonl.gz instead")
            try:
                doc = json.loads(self.zf.read("memories.json"))
            except ValueError as exc:
                raise BundleInvalid(f"memories.json is not JSON: {exc}") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("memories"), list):
                raise BundleInvalid("memories.json has no memories list")
            meta = doc.get("export_meta") or {}
            if not isinstance(meta, dict):
                raise BundleInvalid("memories.json: export_meta must be an object")
            if meta and str(meta.get("version", "1")) != "1":
                raise BundleInvalid(f"OpenMemory export version {meta.get('version')!r} is not supported (1 is)")
        else:
            doc = {"memories": [], "apps": [], "categories": [], "status_history": [], "access_controls": []}
            try:
                with gzip.open(self.zf.open("memories.jsonl.gz"), "rb") as f:
                    size = 0  # parsed whole like memories.json, so bounded like it (a gzip bomb stops here)
                    for line in iter(lambda: f.readline(MAX_LINE + 1), b""):
                        size += len(line)
                        if size > MAX_DOCUMENT or len(line) > MAX_LINE:
                            raise BundleInvalid(f"memories.jsonl.gz is above {MAX_DOCUMENT} bytes (or has a line above {MAX_LINE})")
                        if line.strip():
                            doc["memories"].append(json.loads(line))
            except (ValueError, OSError, EOFError) as exc:
                raise BundleInvalid(f"memories.jsonl.gz: {exc}") from None
        self._use_openmemory(doc)

    def _use_openmemory(self, doc: dict) -> None:
        """Convert an OpenMemory export document (from the zip, or built from its database)."""
        try:
            self._om = _convert_openmemory(doc, self)
        except (TypeError, AttributeError, ValueError) as exc:  # a field of the wrong type (category_ids: 5)
            raise BundleInvalid(f"OpenMemory export: a field has the wrong type ({exc})") from None
        self.apps, self.rules = self._om["apps"], self._om["rules"]
        self.count = len(self._om["memories"])

    def _om_memories(self) -> Iterator[dict]:
        for n, d in enumerate(self._openmemory["memories"], 1):
            yield self._memory(d, f"memories.json memory {n}")


def _get(items: Any, what: str) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise BundleInvalid(f"memories.json: {what} must be a list of objects")
    return items


def _convert_openmemory(doc: dict, bundle: Bundle) -> dict:
    apps_in = _get(doc.get("apps"), "apps")
    cats = {str(c.get("id")): c.get("name") for c in _get(doc.get("categories"), "categories")}
    by_memory: dict[str, list[str]] = {}
    for link in _get(doc.get("memory_categories"), "memory_categories"):
        name = cats.get(str(link.get("category_id")))
        if name:
            by_memory.setdefault(str(link.get("memory_id")), []).append(name)
    app_names: dict[str, str] = {}
    apps: dict[str, dict] = {}
    for a in apps_in:
        try:
            name = validate_app_name(a.get("name"))
        except MembucketError as exc:
            raise BundleInvalid(f"memories.json app {a.get('id')!r}: {exc.message}") from None
        app_names[str(a.get("id"))] = name
        try:
            created = _opt_ts(a.get("created_at"), "created_at") or format_ts(parse_ts("1970-01-01T00:00:00Z"))
            updated = _opt_ts(a.get("updated_at"), "updated_at") or created
        except (ValueError, TypeError) as exc:
            raise BundleInvalid(f"memories.json app {name!r}: {exc}") from None
        apps[name] = {"name": name, "paused": a.get("is_active") is False, "created_at": created, "updated_at": updated}
    memories, history = [], []
    for m in _get(doc.get("memories"), "memories"):
        mid = str(m.get("id"))
        app = app_names.get(str(m.get("app_id"))) if "app_id" in m else m.get("app")
        if app and app not in apps:  # memories.jsonl.gz names apps directly
            apps[app] = {"name": app, "paused": False, "created_at": m.get("created_at"), "updated_at": m.get("created_at")}
        names = [cats.get(str(c), c) for c in (m.get("category_ids") or [])] or by_memory.get(mid) or m.get("categories") or []
        content = m.get("content") if "content" in m else m.get("text")
        memories.append({
            "id": mid, "text": content, "state": m.get("state") or "active", "app": app,
            "categories": [n.strip().lower() for n in names if isinstance(n, str)],
            "metadata": m.get("metadata") if m.get("metadata") is not None else m.get("metadata_"),
            "created_at": m.get("created_at"), "updated_at": m.get("updated_at") or m.get("created_at"),
            "archived_at": m.get("archived_at"), "deleted_at": m.get("deleted_at"),
        })
        if m.get("created_at"):
            history.append({"memory_id": mid, "event": "add", "old_state": None, "new_state": "active", "old_text": None,
                            "new_text": content, "actor": app, "changed_at": m.get("created_at")})
    for h in _get(doc.get("status_history"), "status_history"):
        history.append({"memory_id": str(h.get("memory_id")), "event": "state", "old_state": h.get("old_state"),
                        "new_state": h.get("new_state"), "old_text": None, "new_text": None,
                        "actor": None if h.get("changed_by") is None else str(h.get("changed_by")), "changed_at": h.get("changed_at")})
    history = [bundle._history(h, f"memories.json history {i}") for i, h in enumerate(history, 1)]
    rules = []
    for n, ac in enumerate(_get(doc.get("access_controls"), "access_controls"), 1):
        app = app_names.get(str(ac.get("subject_id")))
        effect = ac.get("effect")
        if ac.get("subject_type") != "app" or app is None or effect not in ("allow", "deny"):
            bundle.notes.append(f"access_controls[{n - 1}] skipped: only allow/deny rules for a known app map to membucket")
            continue
        otype, oid = ac.get("object_type"), ac.get("object_id")
        target: str | None
        if otype == "memory" and oid:
            scope, target = "memory", str(oid)
        elif otype == "category" and oid:
            scope, target = "category", cats.get(str(oid), str(oid))
        else:
            scope, target = "all", None
        try:
            rid = str(uuid.UUID(str(ac.get("id"))))
        except ValueError:
            rid = str(uuid.uuid5(_OM_NS, json.dumps(ac, sort_keys=True, default=str)))
        rules.append(bundle._rule({"id": rid, "app": app, "effect": effect, "scope": scope, "target": target,
                                   "created_at": ac.get("created_at") or "1970-01-01T00:00:00Z"}, f"access_controls[{n - 1}]"))
    apps_out = [bundle._app(a, f"app {a['name']!r}") for a in apps.values()]
    return {"memories": memories, "history": history, "apps": apps_out, "rules": rules}


def openmemory_bundle(doc: dict, settings: Settings) -> Bundle:
    """A bundle from an OpenMemory export document held in memory (``memories.json``'s shape)."""
    bundle = Bundle(None, "openmemory", settings)  # type: ignore[arg-type]  # no zip: every row is in ``doc``
    bundle._use_openmemory(doc)
    return bundle


def open_bundle(f, settings: Settings) -> Bundle:
    """Detect the format of the (seekable, decrypted) file and read its manifest."""
    try:
        # zipfile parses the whole central directory into objects (~500 bytes each): a bundle that
        # is only empty entries would cost gigabytes of memory at MEMBUCKET_MAX_IMPORT_BYTES
        # zipfile's private end-of-central-directory reader: typeshed does not declare it
        end = zipfile._EndRecData(f)  # type: ignore[attr-defined]
        total = zipfile._ECD_ENTRIES_TOTAL  # type: ignore[attr-defined]
        if end is not None and end[total] > MAX_ENTRIES:
            raise BundleInvalid(f"the zip has {end[total]} entries; a bundle has at most {MAX_ENTRIES}")
        f.seek(0)
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleInvalid(f"not a zip bundle: {exc}") from None
    names = set(zf.namelist())
    if "manifest.json" in names:
        if zf.getinfo("manifest.json").file_size > (1 << 20):
            raise BundleInvalid("manifest.json is too large")
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise BundleInvalid(f"manifest.json is unreadable: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleInvalid("manifest.json is not a membucket export manifest")
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise BundleInvalid(f"bundle schema version {manifest.get('schema_version')!r} is not supported ({SCHEMA_VERSION} is)")
        parts = manifest.get("parts")
        if not isinstance(parts, dict) or not isinstance(manifest.get("counts"), dict):
            raise BundleInvalid("manifest.json lacks parts or counts")
        for name in PARTS:
            if name not in names or not isinstance(parts.get(name), dict):
                raise BundleInvalid(f"bundle part {name} is missing")
        count = manifest["counts"].get("memories") or 0
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BundleInvalid("manifest.json: counts.memories is not a count")
        dim = manifest.get("dim")
        if manifest["counts"].get("memories") and (not isinstance(dim, int) or dim < 1 or not manifest.get("embedder")):
            raise BundleInvalid("manifest.json lacks the embedder and dimension")
        return Bundle(zf, "membucket", settings, embedder=manifest.get("embedder"), dim=dim, manifest=manifest,
                      count=count)
    if "memories.json" in names or "memories.jsonl.gz" in names:
        bundle = Bundle(zf, "openmemory", settings)
        bundle._load_openmemory()
        return bundle
    raise BundleInvalid("not a membucket or OpenMemory export: no manifest.json or memories.json")
