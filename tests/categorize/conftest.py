import pytest
from membucket.embed.minilm import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    """The real offline model (installed with the package: these tests fail, never skip, without it)."""
    return MiniLMEmbedder().load()
