"""``membucket doctor`` shows every setting as in effect: numbers and flags as they are, secrets masked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from membucket import cli as cli_module
from membucket.engine.namespace import REGISTRY

from tests.support.embedders import HashEmbedder


@pytest.fixture
def doctor(tmp_path, monkeypatch):
    """Run ``membucket doctor`` with the given ``MEMBUCKET_*`` environment; return its config."""
    monkeypatch.setenv("MEMBUCKET_STORE", str(tmp_path / "bucket"))
    monkeypatch.setattr("membucket.client.load_embedder", lambda name, settings=None: HashEmbedder())
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    REGISTRY.clear()

    def run(**env: str) -> dict:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(cli_module.cli, ["doctor"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["config"]

    return run


def test_doctor_shows_every_setting_the_environment_sets(doctor):
    config = doctor(
        MEMBUCKET_FAISS_THREADS="2", MEMBUCKET_EMBED_THREADS="3", MEMBUCKET_MINILM_DIR="/opt/minilm",
        MEMBUCKET_MODEL_URL="s3://data/models/m", MEMBUCKET_LAMBDA_AUTH="jwt", MEMBUCKET_JWT_USER_CLAIM="email",
        MEMBUCKET_EXPORT_STORE="s3://backup/exports", MEMBUCKET_OPENAI_SECRET_NAME="membucket/openai",
        MEMBUCKET_BACKUP_STORE="s3://backup/old-name",
    )
    assert config["faiss_threads"] == 2 and config["embed_threads"] == 3 and config["minilm_dir"] == "/opt/minilm"
    assert config["model_url"] == "s3://data/models/m" and config["lambda_auth"] == "jwt" and config["jwt_user_claim"] == "email"
    assert config["export_store"] == "s3://backup/exports" and config["openai_secret_name"] == "membucket/openai"
    assert config["backup_url"] == "s3://backup/old-name"  # MEMBUCKET_BACKUP_STORE: the older name of backup_url


def test_doctor_masks_secrets_and_shows_numbers(doctor):
    config = doctor(
        MEMBUCKET_OPENAI_API_KEY="sk-openai", MEMBUCKET_LLM_API_KEY="sk-llm", MEMBUCKET_PASSPHRASE="hunter2",
        MEMBUCKET_LLM_MAX_TOKENS="512", MEMBUCKET_TOKEN_CACHE_SECONDS="2.5",
    )
    assert config["openai_api_key"] == config["llm_api_key"] == config["passphrase"] == "***"
    assert not {"sk-openai", "sk-llm", "hunter2"} & set(map(str, config.values()))
    assert config["llm_max_tokens"] == 512 and config["token_cache_seconds"] == 2.5  # "token" in a name is no secret
    assert config["categorize_async"] in (True, False) and config["max_body_bytes"] == 1_048_576


def test_doctor_shows_the_endpoint_aws_endpoint_url_sets(doctor):
    assert doctor()["endpoint_url"] is None
    assert doctor(AWS_ENDPOINT_URL="http://127.0.0.1:9000")["endpoint_url"] == "http://127.0.0.1:9000"
    assert doctor(MEMBUCKET_ENDPOINT_URL="http://minio:9000")["endpoint_url"] == "http://minio:9000"  # the setting wins
