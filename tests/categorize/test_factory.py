"""``load_categorizer``: which categorizer each MEMBUCKET_CATEGORIZER value gives, and Membucket's default."""

from __future__ import annotations

import sys
import types

import pytest
from membucket import Membucket, Settings, ops
from membucket.categorize.factory import load_categorizer
from membucket.categorize.zeroshot import ZeroShotCategorizer
from membucket.engine.namespace import ReplicaRegistry
from pydantic import ValidationError

from tests.support.embedders import HashEmbedder


def fake_llm_module(llm):
    mod = types.ModuleType("membucket.llm")
    mod.load_llm = lambda settings: llm
    mod.LlmCategorizer = lambda the_llm: (lambda text, vector: [f"llm:{the_llm}"])
    return mod


def test_off_and_zeroshot(tmp_path):
    assert load_categorizer(Settings(categorizer="off"), HashEmbedder()) is None
    assert isinstance(load_categorizer(Settings(categorizer="zeroshot"), HashEmbedder()), ZeroShotCategorizer)
    with pytest.raises(ValidationError, match="categorizer"):  # a typo stops the process at start
        Settings(categorizer="magic")


def test_auto_without_the_llm_package_is_zeroshot(monkeypatch):
    monkeypatch.setitem(sys.modules, "membucket.llm", None)  # import fails as if the package were absent
    assert isinstance(load_categorizer(Settings(), HashEmbedder()), ZeroShotCategorizer)
    with pytest.raises(ValueError, match="no LLM is configured"):
        load_categorizer(Settings(categorizer="llm"), HashEmbedder())


def test_auto_uses_the_llm_when_one_is_configured(monkeypatch):
    monkeypatch.setitem(sys.modules, "membucket.llm", fake_llm_module(None))
    assert isinstance(load_categorizer(Settings(), HashEmbedder()), ZeroShotCategorizer)
    monkeypatch.setitem(sys.modules, "membucket.llm", fake_llm_module("gpt"))
    cat = load_categorizer(Settings(), HashEmbedder())
    assert cat("x", None) == ["llm:gpt"]
    assert load_categorizer(Settings(categorizer="zeroshot"), HashEmbedder()).__class__ is ZeroShotCategorizer


def _mb(tmp_path, **kwargs):
    return Membucket(Settings(store=str(tmp_path / "b"), cache_dir=str(tmp_path / "c"), **kwargs.pop("settings", {})),
                     embedder=kwargs.pop("embedder", None) or HashEmbedder(), registry=ReplicaRegistry(), **kwargs)


def test_membucket_default_follows_settings_and_explicit_none_wins(tmp_path, minilm):
    mb = _mb(tmp_path / "a", embedder=minilm)  # what `make run` / `membucket serve` build
    mid = ops.add(mb.context("u"), "I'm allergic to shellfish and carry an EpiPen").events[0].id
    assert "health" in ops.get(mb.context("u"), mid).categories
    off = _mb(tmp_path / "b", embedder=minilm, settings={"categorizer": "off"})
    assert off.context("u").categorizer is None
    explicit = _mb(tmp_path / "c", embedder=minilm, categorizer=None)
    mid = ops.add(explicit.context("u"), "I'm allergic to shellfish and carry an EpiPen").events[0].id
    assert ops.get(explicit.context("u"), mid).categories == []


def test_loading_the_default_categorizer_does_not_load_the_model(tmp_path):
    emb = HashEmbedder()
    mb = _mb(tmp_path, embedder=emb)
    ops.list_memories(mb.context("u"))
    assert emb.calls == 0


def test_llm_mode_without_an_llm_still_stores_memories(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "membucket.llm", fake_llm_module(None))
    mb = _mb(tmp_path, settings={"categorizer": "llm"})
    mid = ops.add(mb.context("u"), "stored anyway").events[0].id
    assert ops.get(mb.context("u"), mid).categories == []
    assert "categorizer could not be loaded" in caplog.text
