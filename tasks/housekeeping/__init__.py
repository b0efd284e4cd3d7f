"""Housekeeping, a duty of the scheduler: erasures on request and data past its retention."""
