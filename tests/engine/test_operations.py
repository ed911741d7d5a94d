"""Log operations: the typed constructors write exactly the JSON writers always committed, and
replay reads it back; the commit's PUT outcome is typed; the key layout is asked of engine/keys."""

import json

import pytest
from membucket.engine import operations as O
from membucket.engine.keys import NamespaceKeys, list_users, user_of
from membucket.engine.namespace import Namespace, PutOutcome
from membucket.engine.replay import HANDLERS, OP_TYPES
from membucket.store import Unavailable
from membucket.store.memory import MemoryStore

# (operation, the dict a writer committed before the operation types existed, key order included)
WIRE = [
    (O.Init(embedder="hash-64", dim=64), {"op": "init", "embedder": "hash-64", "dim": 64}),
    (
        O.MemoryAdd(id="m1", text="t", hash="h", vector="AAAA", metadata={"a": 1}, categories=["x"], app=None),
        {"op": "memory.add", "id": "m1", "text": "t", "hash": "h", "vector": "AAAA", "metadata": {"a": 1}, "categories": ["x"], "app": None},
    ),
    (
        O.MemoryUpdate(id="m1", text="t", hash="h", vector="AAAA", metadata={"a": 1}),
        {"op": "memory.update", "id": "m1", "text": "t", "hash": "h", "vector": "AAAA", "metadata": {"a": 1}},
    ),
    (O.MemoryUpdate(id="m1", categories=[]), {"op": "memory.update", "id": "m1", "categories": []}),
    (O.MemoryState(ids=["m1"], state="deleted"), {"op": "memory.state", "ids": ["m1"], "state": "deleted"}),
    (O.MemoryPending(ids=["m1"]), {"op": "memory.pending", "ids": ["m1"]}),
    (
        O.MemoryImport(parts=[{"sha256": "s", "rows": 1}], history_parts=[], ids=None),
        {"op": "memory.import", "parts": [{"sha256": "s", "rows": 1}], "history_parts": [], "ids": None},
    ),
    (O.MemoryPurge(ids=["m1"]), {"op": "memory.purge", "ids": ["m1"]}),
    (O.AppUpsert(name="cursor"), {"op": "app.upsert", "name": "cursor"}),
    (O.AppState(name="cursor", paused=True), {"op": "app.state", "name": "cursor", "paused": True}),
    (
        O.AppImport(name="c", paused=False, created_at="2026-01-01T00:00:00.000000Z", updated_at="2026-01-02T00:00:00.000000Z"),
        {"op": "app.import", "name": "c", "paused": False, "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-02T00:00:00.000000Z"},
    ),
    (O.AppPurge(names=["c"]), {"op": "app.purge", "names": ["c"]}),
    (
        O.RuleAdd(id="r1", app="c", effect="deny", scope="all", target=None),
        {"op": "rule.add", "id": "r1", "app": "c", "effect": "deny", "scope": "all", "target": None},
    ),
    (O.RuleDelete(id="r1"), {"op": "rule.delete", "id": "r1"}),
    (
        O.RuleImport(id="r1", app="c", effect="deny", scope="all", target=None, created_at="2026-01-01T00:00:00Z"),
        {"op": "rule.import", "id": "r1", "app": "c", "effect": "deny", "scope": "all", "target": None, "created_at": "2026-01-01T00:00:00Z"},
    ),
    (
        O.EmbedderSwitch(embedder="e", dim=8, vectors_key="k", sha256="s", inline={"digests": [], "vectors": []}),
        {"op": "embedder.switch", "embedder": "e", "dim": 8, "vectors_key": "k", "sha256": "s", "inline": {"digests": [], "vectors": []}},
    ),
    (O.CategoryDefine(name="n", description="d"), {"op": "category.define", "name": "n", "description": "d"}),
    (O.CategoryDelete(name="n"), {"op": "category.delete", "name": "n"}),
    (
        O.NamespaceRestore(checkpoint="ns/a/checkpoints/x/", backup="b", source_seq=3),
        {"op": "namespace.restore", "checkpoint": "ns/a/checkpoints/x/", "backup": "b", "source_seq": 3},
    ),
]


@pytest.mark.parametrize("op, wire", WIRE, ids=[w["op"] + str(i) for i, (_, w) in enumerate(WIRE)])
def test_operations_serialize_to_the_committed_json_and_parse_back(op, wire):
    assert json.dumps(op.to_dict()) == json.dumps(wire)  # same keys, same order: same bytes in the log
    assert O.parse_op(wire) == op


def test_every_operation_has_exactly_one_replay_path():
    assert {op.OP for op, _ in WIRE} == set(O.OP_TYPES)
    assert set(OP_TYPES) == set(O.OP_TYPES) - {O.NamespaceRestore.OP}  # the replica applies restores itself
    assert len(HANDLERS) == len(OP_TYPES) - 1  # memory.add runs are batched by apply_entries


def test_acl_operations_are_the_app_and_rule_ones():
    assert O.ACL_OPS == {name for name in O.OP_TYPES if name.startswith(("app.", "rule."))}


def test_a_bad_committed_op_fails_replay_instead_of_being_skipped():
    with pytest.raises(O.UnknownOperation):
        O.parse_op({"op": "memory.frobnicate"})
    with pytest.raises(KeyError):
        O.parse_op({"op": "memory.state", "ids": ["m1"]})


def test_optional_fields_may_be_missing_from_older_entries():
    op = O.parse_op({"op": "memory.add", "id": "m1", "text": "t", "hash": "h", "vector": "AAAA"})
    assert op.metadata is None and op.categories is None and op.app is None and op.state is None


class _FlakyStore(MemoryStore):
    """Fails the first ``fail`` PUTs with a transport error, after storing the object."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail = fail

    def put(self, key, body, condition=None):
        etag = super().put(key, body, condition)
        if self.fail:
            self.fail -= 1
            raise Unavailable("timeout after the object landed")
        return etag


def test_put_entry_answers_a_typed_outcome(tmp_path):
    ns = Namespace(MemoryStore(), "alice", tmp_path)
    assert ns._put_entry(1, b"{}", 0) is PutOutcome.OK
    assert ns._put_entry(1, b"{}", 0) is PutOutcome.LOST  # 412: another writer took seq 1
    flaky = Namespace(_FlakyStore(fail=1), "alice", tmp_path / "f")
    assert flaky._put_entry(1, b"{}", 0) is PutOutcome.AMBIGUOUS  # our first try may have landed


def test_namespace_layout_is_answered_by_engine_keys():
    store = MemoryStore()
    for key in ("ns/alice/log/1.json", "ns/alice/CHECKPOINT", "ns/bob/log/1.json", "tokens/x.json"):
        store.put(key, b"{}")
    assert list_users(store) == ["alice", "bob"]
    assert user_of("ns/carol/x") == "carol" and user_of("tokens/x.json") is None
    k = NamespaceKeys("alice")
    d = k.checkpoint_dir(7, "ab12")
    assert k.checkpoint_dir_of(d + "meta.json") == (d, "meta.json")
    assert k.seq_of_checkpoint_dir(d) == 7 and k.seq_of_checkpoint_dir(k.checkpoints_prefix + "junk/") is None
    sha = "a" * 64
    assert k.side_sha256(k.blob(sha)) == sha
    assert k.side_sha256(k.reindex_vectors(k.reindex_dir("e", 8), sha)) == sha
    assert k.side_sha256(k.reindex_part(k.reindex_dir("e", 8), sha)) is None


def test_entries_written_by_todays_code_parse_and_reencode_to_the_same_bytes(tmp_path):
    """Every op a real namespace commits (adds, updates, states, apps, rules, categories, a merge
    and a replace import) parses to its type and re-encodes to the entry's exact bytes."""
    import io

    from membucket import ops
    from membucket.engine.keys import NamespaceKeys
    from membucket.engine.log import LogEntry

    from tests.support.factories import make_mb

    mb = make_mb(str(tmp_path / "bucket"), tmp_path / "cache")
    owner = mb.context("alice")
    first = ops.add(owner, "Alice takes insulin daily", categories=["health"], metadata={"src": "test", "n": 1}).events[0].id
    second = ops.add(mb.context("alice", app="cursor"), "Alice leads the payments team").events[0].id
    ops.update(owner, first, text="Alice takes insulin twice a day")
    ops.update(owner, second, categories=["work"])
    ops.change_state(owner, [second], "archived")
    ops.set_app_paused(owner, "cursor", True)
    rule = ops.add_rule(owner, "cursor", "deny", "category", "health")
    ops.add_rule(owner, "cursor", "allow", "all")
    ops.delete_rule(owner, rule.id)
    ops.define_category(owner, "gardening", "plants and the garden")
    ops.delete_category(owner, "gardening")
    ops.delete(owner, first)
    bundle = io.BytesIO()
    ops.export_bundle(owner, bundle)
    ops.import_bundle(mb.context("bob"), io.BytesIO(bundle.getvalue()))
    ops.add(mb.context("bob", app="claude"), "Bob's own memory")  # an app the replace import purges
    ops.import_bundle(mb.context("bob"), io.BytesIO(bundle.getvalue()), mode="replace")

    seen: set[str] = set()
    for user in ("alice", "bob"):
        prefix = NamespaceKeys(user).log(1).rsplit("/", 1)[0] + "/"
        for info in mb.store.list(prefix):
            body = mb.store.get(info.key).body
            entry = LogEntry.decode(body)
            again = [O.parse_op(doc).to_dict() for doc in entry.ops]
            assert json.dumps(again) == json.dumps(entry.ops)
            assert LogEntry(seq=entry.seq, ops=again, actor=entry.actor, txid=entry.txid, ts=entry.ts).encode() == body
            seen |= {doc["op"] for doc in entry.ops}
    assert seen >= {
        "init", "memory.add", "memory.update", "memory.state", "app.upsert", "app.state", "rule.add", "rule.delete",
        "category.define", "category.delete", "memory.import", "app.import", "rule.import", "memory.purge", "app.purge",
    }, seen
