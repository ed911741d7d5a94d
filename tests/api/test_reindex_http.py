"""A running server configured with the old embedder, while and after another process reindexes."""

from __future__ import annotations

from membucket import ops
from membucket.ops.reindex import prepare, switch

from tests.api.conftest import error_code
from tests.support.embedders import HashEmbedder
from tests.support.factories import make_mb


def test_server_on_the_old_embedder_works_until_the_switch_then_answers_409(api, owner, seeded, tmp_path):
    cli = make_mb(api.mb.settings.store, tmp_path / "cli-cache")  # the operator's reindex process
    new = HashEmbedder(32, id="test/hash-32")
    prepared = prepare(cli.namespace("alice"), new)
    # phase 1 done, not switched: the server reads and writes as before
    assert owner.post("/memories/search", json={"query": "insulin"}).json()["items"][0]["id"] == seeded["health"]
    assert owner.post("/memories", json={"text": "Alice plays the cello"}).status_code in (200, 201)
    seq, inline = switch(cli.namespace("alice"), new, prepared)
    assert seq is not None and inline == 1  # the cello, written by the server after phase 1
    for path, body in (("/memories", {"text": "Alice learns Dutch"}), ("/memories/search", {"query": "cello"})):
        r = owner.post(path, json=body)
        assert r.status_code == 409 and error_code(r) == "embedder_mismatch"
        assert "test/hash-32" in r.json()["error"]["message"] and "reindex" in r.json()["error"]["message"]
    # the data is intact in the new space
    hit = ops.search(make_mb(api.mb.settings.store, tmp_path / "new-cache", embedder=new).context("alice"), "Alice plays the cello", limit=1)[0]
    assert hit.text == "Alice plays the cello"
