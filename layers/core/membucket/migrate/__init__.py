"""Readers of other memory systems' own storage, turned into documents ops know how to import."""
