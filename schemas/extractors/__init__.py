"""Extractors as data: the door check, models built from JSON Schema, hashes and merge plans."""
