"""Categorizers: which categories a memory gets when its text is written (offline zero-shot here)."""

from .factory import load_categorizer
from .zeroshot import CategoryDef, ZeroShotCategorizer

__all__ = ["load_categorizer", "ZeroShotCategorizer", "CategoryDef"]
