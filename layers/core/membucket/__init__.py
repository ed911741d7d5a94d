"""membucket: one memory for every LLM client, kept in an S3-compatible bucket."""

from .client import Membucket
from .errors import MembucketError
from .settings import Settings
from .version import __version__

__all__ = ["Membucket", "MembucketError", "Settings", "__version__"]
