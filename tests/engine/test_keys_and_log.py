import numpy as np
import pytest
from membucket.engine.keys import NamespaceKeys, validate_memory_id, validate_user_id
from membucket.engine.log import CorruptEntry, LogEntry, decode_vector, encode_vector
from membucket.errors import InvalidId, InvalidUserId


def test_log_keys_sort_by_sequence():
    k = NamespaceKeys("alice")
    keys = [k.log(n) for n in (1, 2, 10, 100, 99999)]
    assert keys == sorted(keys)
    assert [k.seq_of_log(x) for x in keys] == [1, 2, 10, 100, 99999]
    assert k.seq_of_log("ns/alice/log/.tmp-123") is None


@pytest.mark.parametrize("bad", ["", "a/b", "..", "a..b", "../x", "x" * 129, "a b", "é", "-lead", None, 3])
def test_bad_user_ids(bad):
    with pytest.raises(InvalidUserId):
        validate_user_id(bad)


@pytest.mark.parametrize("good", ["alice", "alice@example.com", "u_1.2+3", "A" * 128])
def test_good_user_ids(good):
    assert validate_user_id(good) == good


def test_memory_ids_are_canonical_uuids():
    assert validate_memory_id("6F1C7D36-0F5B-4C4B-9C8E-6B7E3F0B9A11") == "6f1c7d36-0f5b-4c4b-9c8e-6b7e3f0b9a11"
    with pytest.raises(InvalidId):
        validate_memory_id("6f1c7d36")


def test_entry_round_trip_keeps_vectors_exact():
    v = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    e = LogEntry(seq=5, ops=[{"op": "memory.add", "vector": encode_vector(v)}], actor="cursor")
    d = LogEntry.decode(e.encode(), 5)
    assert (d.seq, d.actor, d.txid, d.ts) == (5, "cursor", e.txid, e.ts)
    assert np.array_equal(decode_vector(d.ops[0]["vector"]), v)


@pytest.mark.parametrize("body", [b"", b"{", b'{"v": 99}', b'{"v": 1, "seq": "x"}', b"\xff\xfe"])
def test_corrupt_entries_are_refused(body):
    with pytest.raises(CorruptEntry):
        LogEntry.decode(body)


def test_entry_stored_under_the_wrong_number_is_refused():
    with pytest.raises(CorruptEntry):
        LogEntry.decode(LogEntry(seq=3, ops=[]).encode(), expected_seq=4)
