"""POST /api/v1/export and /api/v1/import over real HTTP: shapes, limits, passphrases, isolation."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from membucket import ops

from tests.support.bundles import rezip

from .conftest import error_code


def seq_of(api, user):
    with api.mb.context(user).ns.read() as rep:
        return rep.seq


def test_export_then_import_into_another_user(api, owner, seeded):
    resp = owner.post("/export", json={})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    seq = seq_of(api, "alice")
    assert resp.headers["content-disposition"] == f'attachment; filename="membucket-alice-{seq}.zip"'
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(resp.content)).read("manifest.json"))
    assert manifest["user"] == "alice" and manifest["counts"]["memories"] == 3

    bob = api.as_("bob")
    empty = bob.post("/export", json={"app": None, "state": None, "created_after": None, "created_before": None, "encrypt": False, "passphrase": None})
    assert json.loads(zipfile.ZipFile(io.BytesIO(empty.content)).read("manifest.json"))["counts"]["memories"] == 0  # no alice here

    resp = bob.post("/import?mode=merge&reembed=false", content=resp.content, headers={"content-type": "application/zip"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body == {"mode": "merge", "added": 3, "updated": 0, "skipped": 0, "purged": 0, "seq": seq_of(api, "bob"), "format": "membucket"}
    alice_seq = seq_of(api, "alice")
    assert {m["id"] for m in bob.get("/memories").json()["items"]} == set(seeded.values())
    assert seq_of(api, "alice") == alice_seq  # bob's import went to bob only
    again = bob.post("/import", content=resp.request.content, headers={"content-type": "application/zip"})
    assert again.json()["added"] == 0 and again.json()["seq"] == body["seq"]


def test_filters_in_the_body(api, owner, seeded):
    ops.change_state(api.owner_ctx("alice"), [seeded["work"]], "archived")
    resp = owner.post("/export", json={"state": ["archived"]})
    lines = zipfile.ZipFile(io.BytesIO(resp.content)).read("memories.jsonl").splitlines()
    assert [json.loads(x)["id"] for x in lines] == [seeded["work"]]
    assert error_code(owner.post("/export", json={"state": ["frozen"]})) == "validation_error"
    assert error_code(owner.post("/export", json={"created_after": "yesterday"})) == "invalid_input"
    assert error_code(owner.post("/export", json={"encrypt": True})) == "invalid_input"
    # the caller chooses filters, never where anything is written
    assert error_code(owner.post("/export", json={"out": "/etc/cron.d/x"})) == "validation_error"


def test_encrypted_export_and_passphrase_header(api, owner, seeded):
    resp = owner.post("/export", json={"encrypt": True, "passphrase": "s3cret pass"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-disposition"].endswith('.mbx"') and b"insulin" not in resp.content
    bob = api.as_("bob")
    kw = {"content": resp.content, "headers": {"content-type": "application/octet-stream"}}
    r = bob.post("/import", **kw)
    assert r.status_code == 400 and error_code(r) == "bundle_encrypted"
    r = bob.post("/import", content=resp.content, headers={"content-type": "application/octet-stream", "x-membucket-passphrase": "nope"})
    assert r.status_code == 400 and error_code(r) == "bad_passphrase"
    assert seq_of(api, "bob") == 0
    r = bob.post("/import", content=resp.content, headers={"content-type": "application/octet-stream", "x-membucket-passphrase": "s3cret pass"})
    assert r.status_code == 200 and r.json()["added"] == 3


def test_damaged_and_foreign_bundles(api, owner, seeded):
    data = owner.post("/export", json={}).content
    damaged = rezip(data, lambda files: files.update({"memories.jsonl": files["memories.jsonl"].replace(b"insulin", b"Insulin")}))
    bob = api.as_("bob")
    r = bob.post("/import", content=damaged, headers={"content-type": "application/zip"})
    assert r.status_code == 422 and error_code(r) == "bundle_checksum"
    r = bob.post("/import", content=b"PK\x03\x04 not really", headers={"content-type": "application/zip"})
    assert r.status_code == 422 and error_code(r) == "bundle_invalid"
    r = bob.post("/import", content=data, headers={"content-type": "application/json"})
    assert r.status_code == 415
    r = bob.post("/import?mode=overwrite", content=data, headers={"content-type": "application/zip"})
    assert r.status_code == 422
    assert seq_of(api, "bob") == 0


def test_embedder_mismatch_is_409_unless_reembed(api, owner, seeded):
    data = owner.post("/export", json={}).content
    foreign = rezip(data, lambda files: files.update({"manifest.json": json.dumps(json.loads(files["manifest.json"]) | {"embedder": "another/model"}).encode()}))
    bob = api.as_("bob")
    r = bob.post("/import", content=foreign, headers={"content-type": "application/zip"})
    assert r.status_code == 409 and error_code(r) == "embedder_mismatch"
    r = bob.post("/import?reembed=true", content=foreign, headers={"content-type": "application/zip"})
    assert r.status_code == 200 and r.json()["added"] == 3


def test_only_owner_admin_tokens(api, owner, seeded):
    data = owner.post("/export", json={}).content
    for client in (api.as_("alice", app="cursor"), api.as_("alice", scopes=("write",))):
        assert client.post("/export", json={}).status_code == 403
        assert client.post("/import", content=data, headers={"content-type": "application/zip"}).status_code == 403
    assert api.client().post("/export", json={}).status_code == 401


def _big_bundle(api) -> bytes:
    """A bundle above 2 MiB: 300 memories of 8000 characters, stored without compression."""
    import random

    rng = random.Random(7)
    words = [f"w{rng.randrange(10**6)}" for _ in range(5000)]
    ctx = api.owner_ctx("carol")
    ops.add_batch(ctx, [ops.NewMemory(" ".join(rng.choices(words, k=1000))[:8000]) for _ in range(300)])
    buf = io.BytesIO()
    ops.export_bundle(ctx, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for n in src.namelist():
            zf.writestr(n, src.read(n))
    return out.getvalue()


def test_a_bundle_above_the_global_body_limit_imports(api):
    data = _big_bundle(api)
    assert len(data) > 2 * 1024 * 1024 > api.state.max_body_bytes
    dave = api.as_("dave")
    # the global limit still holds everywhere else
    r = dave.post("/memories", content=data, headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = dave.post("/import", content=data, headers={"content-type": "application/zip"})
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 300
    # chunked (no Content-Length) is spooled and counted by the route
    erin = api.as_("erin")
    r = erin.post("/import", content=iter([data[i : i + 65536] for i in range(0, len(data), 65536)]), headers={"content-type": "application/zip"})
    assert r.status_code == 200 and r.json()["added"] == 300


@pytest.mark.parametrize("chunked", [False, True])
def test_the_import_limit_holds(tmp_path, chunked):
    from .conftest import running_api

    with running_api(tmp_path, max_import_bytes=100_000) as api:
        body = b"PK" + b"x" * 150_000
        content = iter([body[i : i + 10_000] for i in range(0, len(body), 10_000)]) if chunked else body
        r = api.as_("alice").post("/import", content=content, headers={"content-type": "application/zip"})
        assert r.status_code == 413 and error_code(r) == "too_large"


def test_an_openmemory_export_over_http(api):
    from tests.ops.test_export_import import openmemory_zip

    data, ids = openmemory_zip()
    r = api.as_("olga").post("/import", content=data, headers={"content-type": "application/zip"})
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "openmemory" and r.json()["added"] == 3
    mem = api.as_("olga").get(f"/memories/{ids['m2']}").json()
    assert (mem["state"], mem["app"], mem["categories"]) == ("archived", "claude", ["work"])
