"""Trust: whether each extracted value is backed by the document, and how much to believe it."""
