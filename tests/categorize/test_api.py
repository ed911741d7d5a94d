"""``POST /memories/recategorize`` and ``/category-definitions`` over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import pytest
from membucket import ops
from membucket.categorize.zeroshot import ZeroShotCategorizer

from tests.api.conftest import error_code, running_api
from tests.support.factories import make_mb


def first_word(text, vector):
    return [text.split()[0].lower()]


@pytest.fixture
def api(tmp_path):
    with running_api(tmp_path) as a:
        a.mb.categorizer = first_word
        yield a


@pytest.fixture
def mems(api):
    """Alice's memories: two without categories, one the cursor app may not see, one paused."""
    ctx = api.owner_ctx()
    ids = {name: ops.add_batch(ctx, [ops.NewMemory(text)])[0] for name, text in [
        ("plain", "Plain memory about nothing"), ("other", "Other memory about something"),
    ]}
    ids["secret"] = ops.add(ctx, "Secret diary entry", categories=["private"]).events[0].id
    ids["paused"] = ops.add(ctx, "Paused note", categories=["old"]).events[0].id
    ops.change_state(ctx, [ids["paused"]], "paused")
    ops.add_rule(ctx, "cursor", "deny", "category", "private")
    return ids


def cats(api, mid):
    return ops.get(api.owner_ctx(), mid).categories


def test_owner_recategorizes_missing_then_ids(api, mems):
    owner = api.as_("alice")
    r = owner.post("/memories/recategorize", json={"only_missing": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["scanned"], body["changed"], body["commits"]) == (2, 2, 1)
    assert sorted(body["changed_ids"]) == sorted([mems["plain"], mems["other"]])
    assert cats(api, mems["plain"]) == ["plain"] and cats(api, mems["secret"]) == ["private"]
    r = owner.post("/memories/recategorize", json={"ids": [mems["paused"]]})
    assert r.json()["changed_ids"] == [mems["paused"]] and cats(api, mems["paused"]) == ["paused"]


def test_app_token_touches_only_what_it_sees(api, mems):
    cursor = api.as_("alice", app="cursor", scopes=("write",))
    r = cursor.post("/memories/recategorize", json={})
    assert r.status_code == 200 and r.json()["scanned"] == 2, r.text
    assert cats(api, mems["secret"]) == ["private"] and cats(api, mems["paused"]) == ["old"]
    for hidden in ("secret", "paused"):
        r = cursor.post("/memories/recategorize", json={"ids": [mems[hidden], mems["plain"]]})
        assert r.status_code == 404 and error_code(r) == "not_found"
        assert "Secret" not in r.text
    assert cats(api, mems["secret"]) == ["private"]
    reader = api.as_("alice", app="cursor", scopes=("read",))
    r = reader.post("/memories/recategorize", json={})
    assert r.status_code == 403 and error_code(r) == "insufficient_scope"


@pytest.mark.parametrize("body, status, code", [
    ({"ids": ["00000000-0000-4000-8000-000000000000"]}, 404, "not_found"),
    ({"ids": ["not-a-uuid"]}, 400, "invalid_id"),
    ({"ids": []}, 422, "validation_error"),
    ({"ids": None, "only_missing": "sometimes"}, 422, "validation_error"),
    ({"everything": True}, 422, "validation_error"),
])
def test_bad_recategorize_input(api, mems, body, status, code):
    before = {k: cats(api, v) for k, v in mems.items()}
    r = api.as_("alice").post("/memories/recategorize", json=body)
    assert r.status_code == status and error_code(r) == code, r.text
    assert {k: cats(api, v) for k, v in mems.items()} == before


def test_too_many_ids_is_413(api, mems):
    api.mb.settings.max_batch = 2
    r = api.as_("alice").post("/memories/recategorize", json={"ids": [mems["plain"], mems["other"], mems["secret"]]})
    assert r.status_code == 413 and error_code(r) == "too_large"
    assert r.json()["error"]["details"]["limit"] == 2


def test_without_a_categorizer_it_is_a_400(api, mems):
    api.mb.categorizer = None
    r = api.as_("alice").post("/memories/recategorize", json={})
    assert r.status_code == 400 and error_code(r) == "invalid_input"


def test_defined_category_is_assigned_over_http(tmp_path, minilm):
    with running_api(tmp_path) as api:
        s = api.mb.settings
        api.state.mb = make_mb(s.store, tmp_path / "cache2", embedder=minilm, categorizer=ZeroShotCategorizer(minilm))
        owner = api.as_("alice")
        r = owner.put("/category-definitions", json={"name": "Gardening", "description": "plants, compost, seeds, vegetable beds"})
        assert r.status_code == 200 and r.json()["name"] == "gardening", r.text
        assert [d["name"] for d in owner.get("/category-definitions").json()["items"]] == ["gardening"]
        mid = owner.post("/memories", json={"text": "Sowed radish seeds in the vegetable bed"}).json()["results"][0]["id"]
        assert owner.get(f"/memories/{mid}").json()["categories"][0] == "gardening"
        # an app may read the definitions but not change them without the admin scope
        cursor = api.as_("alice", app="cursor", scopes=("write",))
        assert cursor.get("/category-definitions").status_code == 200
        r = cursor.put("/category-definitions", json={"name": "x", "description": "y"})
        assert r.status_code == 403 and error_code(r) == "insufficient_scope"
        assert owner.delete("/category-definitions", params={"name": "gardening"}).status_code == 204
        r = owner.delete("/category-definitions", params={"name": "gardening"})
        assert r.status_code == 404 and error_code(r) == "not_found"
        for body, status in [({"name": "bad<>", "description": "d"}, 400), ({"name": "ok", "description": "x" * 501}, 422),
                             ({"name": "ok"}, 422)]:
            r = owner.put("/category-definitions", json=body)
            assert r.status_code == status, (body, r.text)
        assert owner.get("/category-definitions").json()["items"] == []
