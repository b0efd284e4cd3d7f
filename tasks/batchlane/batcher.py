"""The batcher process: pack parked requests into provider batches, submit, poll, ingest.

Its own process (`docqueue batcher` in the Procfile), not a scheduler duty: uploads and
result downloads take seconds to minutes, and the scheduler's dispatch loop must answer a
NOTIFY within milliseconds. Crash safety (docs/batch-lane.md):
- packing is one transaction; a provider batch row (state `preparing`, our submission id)
  exists before the provider's create;
- a `preparing` row this process did not just pack is first looked up at the provider
  (OpenAI: batch metadata `docqueue_submission`; Anthropic: its items), so a create whose
  answer was lost to a crash is adopted, never sent twice;
- results are ingested per item under the item's row lock, only while it is `packed`, so a
  restarted poller bills nothing twice and picks up every open batch from Postgres.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping

import structlog

from schemas.config import Settings
from storage import lane_batches as store
from storage.db import session_scope
from storage.lane_models import ProviderBatch
from storage.lane_results import wake_budget_waiters
from tasks.batchlane.ingest import ingest, switch_rule
from tasks.batchlane.providers import BatchProvider, BatchRequest, ItemResult, Submitted
from tasks.observability.heartbeat import Heartbeat

log = structlog.get_logger(__name__)
FIND_WINDOW = dt.timedelta(minutes=10)  # clock skew and the create's own duration
SWEEP_EVERY = dt.timedelta(seconds=30)


class Batcher:
    """One batcher: every round packs, submits and polls; each step is safe to repeat."""

    def __init__(self, *, settings: Settings, providers: Mapping[str, BatchProvider]) -> None:
        self.settings = settings
        self.providers = providers
        self.fresh: set[uuid.UUID] = set()  # packed by this process: never created yet
        self.last_sweep = dt.datetime.now(dt.UTC)

    def run_once(self) -> int:
        """One round; returns how many things changed (0: nothing to do)."""
        # Each step on its own: one failing (a provider refusing, a config slip) must not
        # stop the others, above all the polls that bring results and money back.
        changed = sum(self._step(step) for step in (self.pack, self.submit, self.cancel, self.poll))
        now = dt.datetime.now(dt.UTC)
        if now - self.last_sweep > SWEEP_EVERY:  # a job that parked as its last hold settled
            with session_scope() as session:
                wake_budget_waiters(session=session, parked_before=now - SWEEP_EVERY)
            self.last_sweep = now
        return changed

    def run_forever(self, stop: threading.Event, heartbeat: Heartbeat) -> None:
        """Rounds until `stop` is set, sleeping `poll_s` when a round found nothing."""
        while not stop.is_set():
            heartbeat.beat()
            try:
                changed = self.run_once()
            except Exception:  # one bad round (a provider or Postgres blip) must not end it
                log.exception("batcher_round_failed")
                changed = 0
            if not changed:
                stop.wait(self.settings.app.batch_lane.poll_s)

    def _step(self, step: Callable[[], int]) -> int:
        try:
            return step()
        except Exception:  # logged with its traceback; the next round tries again
            log.exception("batcher_step_failed", step=step.__name__)
            return 0

    def pack(self) -> int:
        """Move due parked items into new provider batches, within each provider's limits."""
        cfg = self.settings.app.batch_lane
        packed = 0
        with session_scope() as session:
            store.drop_orphans(session=session)
            pairs = store.parked_models(session=session)
        for provider, model in pairs:
            if provider not in self.providers:
                continue
            limits = (
                (cfg.openai_max_requests, cfg.openai_max_bytes)
                if provider == "openai"
                else (cfg.anthropic_max_requests, cfg.anthropic_max_bytes)
            )
            while True:
                with session_scope() as session:
                    batch_id = store.pack(
                        session=session,
                        provider=provider,
                        model=model,
                        max_requests=limits[0],
                        max_bytes=limits[1],
                        flush_size=cfg.flush_size,
                        max_wait=dt.timedelta(seconds=cfg.max_wait_s),
                    )
                if batch_id is None:
                    break
                self.fresh.add(batch_id)
                packed += 1
        return packed

    def submit(self) -> int:
        """Create a provider batch for every `preparing` row (adopting one a crash left)."""
        done = 0
        with session_scope() as session:
            rows = [b for b in store.open_batches(session=session) if b.state == "preparing"]
            session.expunge_all()
        for row in rows:
            provider = self.providers.get(row.provider)
            if provider is None:
                continue
            try:
                done += self._submit_one(row, provider)
            except Exception:  # one row's failure must not hold up the others, or the polls
                log.exception("provider_batch_submit_failed", submission_id=str(row.id))
        return done

    def _submit_one(self, row: ProviderBatch, provider: BatchProvider) -> bool:
        """Create (or adopt) the provider batch of one `preparing` row; False: try later."""
        with session_scope() as session:
            pairs = store.batch_requests(session=session, batch_id=row.id)
            taken = store.open_provider_batch_ids(session=session, provider=row.provider)
        requests = [BatchRequest(c, body) for c, body in pairs]
        found: Submitted | None = None
        if row.id not in self.fresh:  # may have been created before a crash
            try:
                found = provider.find(
                    submission_id=str(row.id),
                    created_after=row.created_at - FIND_WINDOW,
                    custom_ids=[r.custom_id for r in requests],
                    exclude=taken,
                )
            except LookupError as exc:  # two candidates: wait until one ends and tells
                log.warning("provider_batch_ambiguous", submission_id=str(row.id), error=str(exc))
                return False
        self.fresh.discard(row.id)  # from here on, a retry must look first
        submitted = found or provider.submit(submission_id=str(row.id), requests=requests)
        with session_scope() as session:
            store.mark_submitted(
                session=session,
                batch_id=row.id,
                provider_batch_id=submitted.provider_batch_id,
                input_file_id=submitted.input_file_id,
                status=submitted.status,
                expires_at=submitted.expires_at,
            )
        log.info(
            "provider_batch_submitted",
            submission_id=str(row.id),
            provider_batch_id=submitted.provider_batch_id,
            requests=len(requests),
            adopted=found is not None,
        )
        return True

    def cancel(self) -> int:
        """Cancel provider batches whose every job was cancelled (POST /v1/batches/{id}/cancel)."""
        with session_scope() as session:
            rows = store.cancellable(session=session)
        for batch_id, name, provider_batch_id in rows:
            provider = self.providers.get(name)
            if provider is None:
                continue
            try:
                provider.cancel(provider_batch_id=provider_batch_id)
            except Exception:  # it may have ended meanwhile: the poll will say
                log.exception("provider_batch_cancel_failed", submission_id=str(batch_id))
                continue
            with session_scope() as session:
                store.record_status(
                    session=session,
                    batch_id=batch_id,
                    status="cancelling",
                    counts={},
                    error=None,
                    done=False,
                )
            log.info("provider_batch_cancelled", submission_id=str(batch_id))
        return len(rows)

    def poll(self) -> int:
        """Poll every submitted batch; ingest the results of those that ended."""
        ended = 0
        with session_scope() as session:
            rows = [b for b in store.open_batches(session=session) if b.state == "submitted"]
            session.expunge_all()
        for row in rows:
            provider = self.providers.get(row.provider)
            if provider is None or row.provider_batch_id is None:
                continue
            try:
                polled = provider.poll(provider_batch_id=row.provider_batch_id)
                if polled.ended:
                    self._ingest(row, provider, failed=polled.failed)
                    ended += 1
            except Exception:  # this batch next round; the others now
                log.exception("provider_batch_poll_failed", submission_id=str(row.id))
                continue
            with session_scope() as session:
                store.record_status(
                    session=session,
                    batch_id=row.id,
                    status=polled.status,
                    counts=polled.counts,
                    error=polled.error,
                    done=polled.ended,
                )
            if polled.failed:
                log.warning("provider_batch_failed", submission_id=str(row.id), error=polled.error)
        return ended

    def _ingest(self, row: ProviderBatch, provider: BatchProvider, *, failed: bool) -> None:
        """Every result line of an ended batch; items it has no line for are lost."""
        if row.provider_batch_id is None:
            return
        app = self.settings.app
        switch = switch_rule(app, dt.datetime.now(dt.UTC))
        results = provider.results(provider_batch_id=row.provider_batch_id)
        counts = ingest(
            sessions=session_scope,
            config=app,
            provider=row.provider,
            results=results,
            switch=switch,
        )
        with session_scope() as session:  # no line at all: the batch failed, or lost them
            missing = store.pending_custom_ids(session=session, batch_id=row.id)
        lost = (
            ItemResult(custom_id=custom_id, kind="expired", status=None, body=None)
            for custom_id in missing
        )
        kinds = ingest(
            sessions=session_scope, config=app, provider=row.provider, results=lost, switch=switch
        )
        _add(counts, {f"missing_{kind}": n for kind, n in kinds.items()})
        with session_scope() as session:
            # holds settled below the worst case: jobs waiting for budget try again
            counts["woken"] = wake_budget_waiters(session=session)
        log.info("provider_batch_ingested", submission_id=str(row.id), failed=failed, **counts)


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for kind, n in more.items():
        counts[kind] = counts.get(kind, 0) + n
