"""Score extraction results against labelled values: pure functions, no I/O, no API.

`schema_rules` picks each field's rule from the extractor's JSON Schema, `scoring` scores
one labelled value against one extracted value, `labels` reads a labels file and matches
its lines to a batch's result lines, and `report` puts the scores together per field.
"""
