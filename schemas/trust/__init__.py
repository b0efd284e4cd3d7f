"""Trust: the evidence envelope, per-field verdicts, review states and their settings."""
