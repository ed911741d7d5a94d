"""Hostile bundles found in review: each must be a 422 with a code, before any write."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import zipfile

import pytest
from membucket import errors, ops
from membucket.ops import bundle as bundle_mod
from membucket.ops.importer import import_bundle

from tests.ops.test_export_import import export_bytes, openmemory_zip, seq_of
from tests.support.bundles import rezip


def _edit_rows(part, change):
    """A rezip edit that rewrites the rows of one JSONL part and re-signs its manifest checksum."""

    def edit(files):
        rows = [json.loads(line) for line in files[part].splitlines() if line.strip()]
        change(rows)
        files[part] = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
        m = json.loads(files["manifest.json"])
        m["parts"][part]["sha256"] = hashlib.sha256(files[part]).hexdigest()
        files["manifest.json"] = json.dumps(m).encode()

    return edit


def _edit_memories(change):
    return _edit_rows("memories.jsonl", change)


def _set_manifest(**kw):
    def edit(files):
        files["manifest.json"] = json.dumps(json.loads(files["manifest.json"]) | kw).encode()

    return edit


@pytest.mark.parametrize("change", [
    # canonical in shape, impossible as a date: passed the fast path, then broke replay after commit
    _edit_memories(lambda rows: rows[0].update(created_at="2024-02-30T00:00:00.000000Z")),
    _edit_memories(lambda rows: rows[0].update(updated_at="2024-13-01T25:61:00.000000Z")),
    _edit_memories(lambda rows: rows[0].update(created_at="0001-01-01T00:00:00+01:00")),  # OverflowError
    _set_manifest(counts={"memories": "many"}),
    _set_manifest(counts={"memories": [1]}),
], ids=["feb30", "month13", "year0", "count-str", "count-list"])
def test_bad_bundle_fields_are_refused_before_any_write(mb, owner, change):
    ops.add(owner, "Alice takes insulin every morning")
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    ops.add(bob, "bob's own memory")
    seq = seq_of(bob)
    with pytest.raises(errors.BundleInvalid) as info:
        import_bundle(bob, io.BytesIO(rezip(data, change)))
    assert info.value.status == 422
    assert seq_of(bob) == seq
    assert [m.text for m in ops.list_memories(bob).items] == ["bob's own memory"]


def _om_edit(change):
    def edit(files):
        doc = json.loads(files["memories.json"])
        change(doc)
        files["memories.json"] = json.dumps(doc).encode()

    return edit


@pytest.mark.parametrize("change", [
    lambda d: d["apps"][0].update(created_at=12345),
    lambda d: d["apps"][0].update(updated_at="not a time"),
    lambda d: d["memories"][0].update(created_at="2025-02-30T00:00:00"),
    lambda d: d["memories"][0].update(category_ids=5),
    lambda d: d.update(export_meta="v1"),
], ids=["app-created-int", "app-updated-garbage", "memory-feb30", "category-ids-int", "export-meta-str"])
def test_openmemory_bad_times_are_refused(mb, change):
    data, _ = openmemory_zip()
    ctx = mb.context("alice")
    with pytest.raises(errors.BundleInvalid):
        import_bundle(ctx, io.BytesIO(rezip(data, _om_edit(change))))
    assert seq_of(ctx) == 0


def test_openmemory_jsonl_gz_is_bounded(mb, monkeypatch):
    """memories.jsonl.gz is parsed whole: a gzip bomb must stop at MAX_DOCUMENT, not fill memory."""
    monkeypatch.setattr(bundle_mod, "MAX_DOCUMENT", 1 << 16)
    line = json.dumps({"id": "x", "content": "a" * 100, "created_at": "2025-01-01T00:00:00"}) + "\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("memories.jsonl.gz", gzip.compress((line * 2000).encode()))
    ctx = mb.context("alice")
    with pytest.raises(errors.BundleInvalid, match="memories.jsonl.gz"):
        import_bundle(ctx, io.BytesIO(out.getvalue()))
    assert seq_of(ctx) == 0


@pytest.mark.parametrize("raw", [b'"n": Infinity', b'"n": 1e400', b'"n": NaN'])
def test_an_encrypted_header_with_non_finite_numbers_is_invalid(mb, owner, raw):
    ops.add(owner, "a memory")
    data, _ = export_bytes(owner, passphrase="pw")
    hlen = struct.unpack(">I", data[4:8])[0]
    header = json.dumps(json.loads(data[8 : 8 + hlen]) | {"n": 0}).encode().replace(b'"n": 0', raw)
    bad = data[:4] + struct.pack(">I", len(header)) + header + data[8 + hlen :]
    with pytest.raises(errors.BundleInvalid):
        import_bundle(mb.context("bob"), io.BytesIO(bad), passphrase="pw")


@pytest.mark.parametrize("change", [
    _edit_memories(lambda rows: rows[0].pop("vector")),
    _edit_memories(lambda rows: rows[0].update(vector=None)),
], ids=["vector-missing", "vector-null"])
def test_a_row_without_its_vector_is_refused_before_any_upload(mb, owner, change):
    """A membucket bundle carries every vector (or none travel: reembed); a row lacking one broke np.stack mid-upload."""
    for text in ("Alice takes insulin every morning", "Alice rides a red bicycle"):
        ops.add(owner, text)
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    with pytest.raises(errors.BundleInvalid):
        import_bundle(bob, io.BytesIO(rezip(data, change)))
    assert seq_of(bob) == 0 and list(mb.store.list("ns/bob/")) == []
    assert import_bundle(bob, io.BytesIO(rezip(data, change)), reembed=True).added == 2  # re-embedding needs none


def test_a_zip_of_many_entries_is_refused_before_its_directory_is_parsed(mb, monkeypatch):
    """Each central-directory entry costs ~500 bytes once parsed: refuse by the end record's count."""
    parsed = []
    real = zipfile.ZipFile.__init__
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda self, *a, **kw: parsed.append(1) or real(self, *a, **kw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(bundle_mod.MAX_ENTRIES + 1):
            zf.writestr(f"e{i}", b"")
    parsed.clear()
    ctx = mb.context("alice")
    with pytest.raises(errors.BundleInvalid, match="entries"):
        import_bundle(ctx, io.BytesIO(out.getvalue()))
    assert parsed == [] and seq_of(ctx) == 0


@pytest.mark.parametrize("scale", [1e30, 0.5, 0.0])
def test_a_vector_that_is_not_unit_length_is_refused(mb, owner, scale):
    """Every embedder gives L2-normalized vectors and inner-product scores assume it."""
    import base64

    import numpy as np

    def scale_first(rows):
        v = np.frombuffer(base64.b64decode(rows[0]["vector"]), "<f4") * np.float32(scale)
        rows[0]["vector"] = base64.b64encode(v.astype("<f4").tobytes()).decode()

    ops.add(owner, "Alice takes insulin every morning")
    data, _ = export_bytes(owner)
    bob = mb.context("bob")
    with pytest.raises(errors.BundleInvalid, match="normalized"):
        import_bundle(bob, io.BytesIO(rezip(data, _edit_memories(scale_first))))
    assert seq_of(bob) == 0


@pytest.mark.parametrize("member", ["memories.jsonl", "history.jsonl", "memories.json"])
def test_damaged_zip_member_data_is_bundle_checksum(mb, owner, member):
    """A flipped byte inside a member's compressed data: zipfile's CRC or zlib error, as a 422."""
    if member == "memories.json":
        data, _ = openmemory_zip()
    else:
        for i in range(50):
            ops.add(owner, f"alice fact number {i} about things")
        data, _ = export_bytes(owner)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    off = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size // 2
    bad = bytearray(data)
    bad[off] ^= 0xFF
    bob = mb.context("bob")
    with pytest.raises(errors.BundleChecksum):
        import_bundle(bob, io.BytesIO(bytes(bad)))
    assert seq_of(bob) == 0 and list(mb.store.list("ns/bob/")) == []


@pytest.mark.parametrize("field,size", [("new_text", "over"), ("old_text", "over"), ("actor", 257)])
def test_history_texts_are_bounded_like_memory_texts(mb, owner, field, size):
    """History rows are batched 20k to a part: an unbounded text (up to the 4 MiB line cap) would make one part 80 GB."""
    ops.add(owner, "Alice takes insulin every morning")
    data, _ = export_bytes(owner)
    n = mb.settings.max_text_chars + 1 if size == "over" else size
    bob = mb.context("bob")
    with pytest.raises(errors.BundleInvalid, match=field):
        import_bundle(bob, io.BytesIO(rezip(data, _edit_rows("history.jsonl", lambda rows: rows[0].update({field: "x" * n})))))
    assert seq_of(bob) == 0


def test_parts_are_bounded_by_text_size_as_well_as_rows(mb, owner, monkeypatch):
    """Rows of long texts split into more parts (each part is held whole by the importer and by replay)."""
    from membucket.engine.log import LogEntry
    from membucket.ops import importer

    topics = ["insulin every morning", "a red bicycle", "the payments team", "tea over coffee"]
    texts = [f"Alice and {t}: " + " ".join(f"{t.split()[-1]}{j}" for j in range(60)) for t in topics]
    for text in texts:
        ops.add(owner, text)
    data, _ = export_bytes(owner)
    monkeypatch.setattr(importer, "PART_CHARS", max(map(len, texts)) + 1)  # two rows reach it
    bob = mb.context("bob")
    assert import_bundle(bob, io.BytesIO(data)).added == 4
    keys = mb.namespace("bob").keys
    entry = LogEntry.decode(mb.store.get(keys.log(seq_of(bob))).body, seq_of(bob))
    op = next(o for o in entry.ops if o["op"] == "memory.import")
    assert [p["rows"] for p in op["parts"]] == [2, 2]
    assert sorted(m.text for m in ops.list_memories(make_mb_cold(mb, "bob")).items) == sorted(texts)


def make_mb_cold(mb, user):
    """A fresh process's view of ``user`` (replays the import from the parts)."""
    from tests.support.factories import make_mb

    return make_mb(mb.settings.store, mb.settings.cache_dir + "-cold").context(user)
