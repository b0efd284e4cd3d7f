"""Graceful worker shutdown, wired to Celery: after the grace period, hand back the rest.

`docqueue worker` maps SIGTERM to Celery's cold shutdown with a soft-shutdown wait of
`celery.shutdown_grace_s`: the consumer stops (no new jobs) and running jobs get that long
to finish. Celery then cancels the rest and sends `worker_shutting_down`; the hand-back
itself is in tasks/worker/handback.py.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from tasks.worker.handback import start_hand_back


def _on_shutting_down(how: str = "", **_: Any) -> None:
    """After a cold shutdown's grace period, hand back what is left (in the background)."""
    if how != "Cold":
        return  # a warm shutdown (a first Ctrl+C) waits for every job by design
    start_hand_back()


signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
