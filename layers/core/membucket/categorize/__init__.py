"""Categorizers: which categories a memory gets when its text is written (offline zero-shot here)."""

from .base import Categorizer
from .factory import load_categorizer
from .zeroshot import CategoryDef, ZeroShotCategorizer

__all__ = ["Categorizer", "load_categorizer", "ZeroShotCategorizer", "CategoryDef"]
