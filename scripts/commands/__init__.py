"""`docqueue` commands that talk to the HTTP API: extractors, reruns and diffs."""
