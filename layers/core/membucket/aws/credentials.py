"""The remote model's API key, read from Secrets Manager so it is never in the template or the logs."""

from __future__ import annotations

import json
import os

from ..settings import Settings

__all__ = ["load_openai_secret"]


def load_openai_secret(settings: Settings) -> None:
    """Export the API key for an OpenAI-compatible endpoint from Secrets Manager, when one is named.

    The secret (``Settings.openai_secret_name``) is the key itself or JSON with ``api_key``. The
    key stays in this process's environment (``OPENAI_API_KEY``, where the OpenAI clients look).
    """
    name = settings.openai_secret_name
    if not name or os.environ.get("OPENAI_API_KEY"):
        return
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    try:
        value = json.loads(value)["api_key"]
    except (ValueError, TypeError, KeyError):
        pass
    os.environ["OPENAI_API_KEY"] = value
