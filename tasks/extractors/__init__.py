"""The extractor registry: built-in and tenant extractors resolved to specs by name or id."""
