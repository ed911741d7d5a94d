"""The categorizer contract: what ops call when a memory is written without categories."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["Categorizer"]

# (text, vector) -> categories. Zero-shot (categorize/zeroshot.py) and the LLM one (llm/) fit it;
# ops/context.Context carries one, categorize/factory.py picks it.
Categorizer = Callable[[str, np.ndarray], Sequence[str]]
