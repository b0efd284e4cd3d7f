"""Celery's consumer, fitted to survive a broker that drops its connection (Redis restart).

On a lost connection Celery first runs `connection.collect()`, which detaches the kombu
transport, and then `connection.close()`, whose channel close tries to restore the unacked
messages through that detached transport and raises AttributeError ('NoneType' object has
no attribute 'hostname'). `ignore_errors` only swallows connection errors, so the worker
dies with "Unrecoverable error" and tasks.celery.pool.Worker has to start the process
afresh: tens of seconds on a loaded machine, during which the worker runs nothing. Here
the close's failure is dropped instead: the connection is being thrown away anyway (and a
Redis that restarted holds no unacked messages to restore), and the consumer goes on to
reconnect like after any other connection loss.

The same detached transport trips the acks of tasks that were running across the loss:
their messages belong to the dead channel. Such an ack is logged ("Couldn't ack") and
dropped like an ack on any broken connection; the job's outcome is in Postgres already.
"""

from __future__ import annotations

import logging

from celery.worker import consumer

logger = logging.getLogger(__name__)


class Consumer(consumer.Consumer):  # type: ignore[misc]  # celery ships no type hints
    """The stock consumer; a failed close of a broken broker connection is not fatal."""

    connection_errors: tuple[type[BaseException], ...]  # set by Celery from the transport

    def update_strategies(self) -> None:
        """Build the task strategies; their acks treat the detached transport as a lost link."""
        plain = tuple(self.connection_errors)
        self.connection_errors = (*plain, AttributeError)
        try:
            super().update_strategies()
        finally:
            self.connection_errors = plain

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        """Drop the broken connection, even when its close trips over the detached transport."""
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError:
            # Celery has already set self.connection = None before the close: reconnect.
            self.connection = None
            logger.warning("broker connection closed uncleanly after %r; reconnecting", exc)
