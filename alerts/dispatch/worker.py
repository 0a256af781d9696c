"""Dispatch workers: claim batches, submit MM7 under the global rate limit, record outcomes.

Several workers may run per host and on several hosts; they coordinate only through row
locks and leases in the ``delivery`` table. A worker killed mid-batch loses nothing: its
lease runs out and another worker re-sends at most that batch (recognisable by its
TransactionID, which is derived from the batch id).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from alerts.db import utcnow
from alerts.dispatch import queue
from alerts.dispatch.breaker import Breaker
from alerts.dispatch.connectors.base import (
    Address,
    Classification,
    Connector,
    Priority,
    SubmitRequest,
    SubmitResult,
)
from alerts.dispatch.metrics import METRICS
from alerts.dispatch.mmsbody import unpack
from alerts.dispatch.models import Content
from alerts.dispatch.ratelimit import Bucket
from renderers.mms import MmsContent

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class CachedContent:
    """What a worker keeps per content row."""

    subject: str
    mms: MmsContent
    high: bool
    expires_at: object


@dataclass
class WorkerConfig:
    """Batch size, concurrency, lease and polling of one worker."""

    batch_size: int = 100
    concurrency: int = 8
    lease_s: float = 30.0
    idle_poll_s: float = 0.1
    sweep_every_s: float = 1.0


@dataclass
class Worker:
    """One dispatch worker bound to one MMSC link."""

    engine: Engine
    connector: Connector
    bucket: Bucket
    config: WorkerConfig = field(default_factory=WorkerConfig)
    breaker: Breaker = field(default_factory=Breaker)
    worker_id: str = field(default_factory=lambda: secrets.token_hex(4))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _contents: dict[int, CachedContent] = field(default_factory=dict)
    _batches: int = 0
    _held: set[int] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then release whatever is still held."""
        tasks: set[asyncio.Task[int]] = set()
        last_sweep = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() - last_sweep > self.config.sweep_every_s:
                    last_sweep = time.monotonic()
                    await self._db(queue.sweep, self.engine)
                if not self.breaker.allow():
                    await self._sleep(stop, max(0.05, self.breaker.wait_s()))
                    continue
                if len(tasks) >= self.config.concurrency:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                got = await self._db(self._claim)
                if got is None:
                    await self._sleep(stop, DB_RETRY_S)
                    continue
                batch_id, claimed = got
                if not claimed:
                    self.breaker.probe_undecided()
                    await self._sleep(stop, self.config.idle_poll_s)
                    continue
                task = asyncio.create_task(self._process(claimed, batch_id))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                await asyncio.wait(tasks, timeout=self.config.lease_s)
            await asyncio.to_thread(
                queue.release, self.engine, sorted(self._held), reason="worker stopped"
            )

    async def _db(self, fn: Callable[..., T], *args: object) -> T | None:
        """Run a queue call off the loop; None when the database is unreachable.

        A PostgreSQL restart or failover must not end the worker: it logs, waits and retries
        (the pool's pre-ping reconnects), and held rows keep their lease meanwhile.
        """
        try:
            return await asyncio.to_thread(fn, *args)
        except DBAPIError as exc:
            log.warning("database unavailable (%s); retrying", type(exc.orig).__name__)
            return None

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()

    def _batch_size(self) -> int:
        if self.breaker.state.value == "half_open":
            return 1
        limit = self.bucket.backend.spec.rate if self.bucket.backend is not None else None
        size = self.config.batch_size
        per_request = getattr(self.connector, "max_recipients", 1)
        if limit:
            # Keep everything this worker has in flight (``concurrency`` batches) to about a
            # quarter second of the link's rate, so a cancel never waits long for submits
            # already under way, an outage trips the breaker before much more is sent, and
            # no batch waits for tokens anywhere near its lease.
            per_batch = limit * 0.25 / self.config.concurrency
            size = min(size, max(per_request, int(per_batch) * per_request))
        return size

    def _claim(self) -> tuple[str, list[queue.Claimed]]:
        self._batches += 1
        batch_id = f"{self.worker_id}-{self._batches}"
        rows = queue.claim(
            self.engine, batch_id=batch_id, n=self._batch_size(), lease_s=self.config.lease_s
        )
        self._held.update(r.id for r in rows)
        return batch_id, rows

    async def _process(self, claimed: list[queue.Claimed], batch_id: str) -> int:
        try:
            return await self._process_batch(claimed, batch_id)
        except Exception:
            # The rows keep their lease: another claim picks them up when it runs out.
            log.exception(
                "batch %s failed; its %d deliveries return after the lease", batch_id, len(claimed)
            )
            return 0
        finally:
            self._held.difference_update(r.id for r in claimed)
            self.breaker.probe_undecided()

    async def _process_batch(self, claimed: list[queue.Claimed], batch_id: str) -> int:
        alert_id = claimed[0].alert_id
        contents = await asyncio.to_thread(self._load_contents, {c.content_id for c in claimed})
        now = utcnow()
        expired = [c.id for c in claimed if _expired(contents[c.content_id].expires_at, now)]
        if expired:
            await asyncio.to_thread(
                queue.release, self.engine, expired, to_state="expired", reason="alert expired"
            )
        live = [c for c in claimed if c.id not in set(expired)]
        moved = set(
            await asyncio.to_thread(queue.begin_submit, self.engine, [c.id for c in live], batch_id)
        )
        sending = [c for c in live if c.id in moved]
        if not sending:
            return 0
        outcomes = await self._submit_all(sending, contents, batch_id)
        await asyncio.to_thread(queue.record, self.engine, alert_id, batch_id, outcomes)
        self._judge(outcomes)
        return len(sending)

    def _judge(self, outcomes: Sequence[queue.Outcome]) -> None:
        if any(o.state == "submitted" for o in outcomes):
            self.breaker.success()
        elif any(o.reason == "link misconfigured" for o in outcomes):
            self.breaker.failure(hard=True)
            log.error(
                "MMSC link misconfigured (status %s): operator action needed",
                outcomes[0].status_code,
            )
        elif outcomes and all(o.state == "queued" for o in outcomes):
            self.breaker.failure()

    def _load_contents(self, ids: set[int]) -> dict[int, CachedContent]:
        from sqlmodel import Session

        missing = [i for i in ids if i not in self._contents]
        if missing:
            with Session(self.engine) as session:
                for cid in missing:
                    row = session.get(Content, cid)
                    assert row is not None
                    self._contents[cid] = CachedContent(
                        row.subject, unpack(row.mms), row.priority_high, row.expires_at
                    )
        return {i: self._contents[i] for i in ids}

    async def _submit_all(
        self, rows: list[queue.Claimed], contents: dict[int, CachedContent], batch_id: str
    ) -> list[queue.Outcome]:
        per_request = max(1, int(getattr(self.connector, "max_recipients", 1)))
        groups: dict[int, list[queue.Claimed]] = {}
        for r in rows:
            groups.setdefault(r.content_id, []).append(r)
        requests = [
            (cid, g[i : i + per_request])
            for cid, g in groups.items()
            for i in range(0, len(g), per_request)
        ]
        results: list[queue.Outcome] = []
        sem = asyncio.Semaphore(self.config.concurrency * 4)
        pending: list[asyncio.Task[list[queue.Outcome]]] = []
        n = 0
        renew_at = 0.0  # renew before the first send too: the claim may be a while ago
        while n < len(requests):
            granted = await self.bucket.acquire(len(requests) - n)
            if time.monotonic() >= renew_at:  # a long wait for tokens must not outlast the lease
                requests = requests[:n] + await self._still_held(rows, requests[n:], batch_id)
                renew_at = time.monotonic() + self.config.lease_s / 3
            for cid, chunk in requests[n : n + granted]:
                n_req = len(pending) + 1
                pending.append(
                    asyncio.create_task(
                        self._submit_one(sem, contents[cid], chunk, f"{batch_id}.{n_req}")
                    )
                )
            n += granted
        for task in pending:
            results.extend(await task)
        return results

    async def _still_held(
        self,
        rows: list[queue.Claimed],
        unsent: list[tuple[int, list[queue.Claimed]]],
        batch_id: str,
    ) -> list[tuple[int, list[queue.Claimed]]]:
        """Renew the batch's lease; drop unsent recipients whose rows another worker took."""
        ids = [c.id for c in rows]
        held = await asyncio.to_thread(queue.renew, self.engine, ids, batch_id, self.config.lease_s)
        kept = [(cid, [c for c in chunk if c.id in held]) for cid, chunk in unsent]
        return [(cid, chunk) for cid, chunk in kept if chunk]

    async def _submit_one(
        self,
        sem: asyncio.Semaphore,
        content: CachedContent,
        chunk: list[queue.Claimed],
        transaction_id: str,
    ) -> list[queue.Outcome]:
        request = SubmitRequest(
            transaction_id=transaction_id,
            recipients=tuple(Address(c.recipient) for c in chunk),
            content=content.mms,
            subject=content.subject,
            priority=Priority.HIGH if content.high else Priority.NORMAL,
            expiry=content.expires_at if hasattr(content.expires_at, "tzinfo") else None,  # type: ignore[arg-type]
        )
        started = time.perf_counter()
        async with sem:
            result = await self.connector.submit(request)
        METRICS.observe_submit(time.perf_counter() - started, result)
        return outcomes_for(result, chunk)


def _expired(expires_at: object, now: object) -> bool:
    return expires_at is not None and expires_at <= now  # type: ignore[operator]


def outcomes_for(result: SubmitResult, chunk: Sequence[queue.Claimed]) -> list[queue.Outcome]:
    """Per-delivery outcomes of one submit (a split result is read part by part)."""
    if result.classification is Classification.SPLIT and result.parts:
        by_number = {c.recipient: c for c in chunk}
        out: list[queue.Outcome] = []
        for part in result.parts:
            out.extend(
                outcomes_for(
                    part, [by_number[a.value] for a in part.recipients if a.value in by_number]
                )
            )
        return out
    return [_outcome(result, c) for c in chunk]


def _outcome(result: SubmitResult, c: queue.Claimed) -> queue.Outcome:
    code, http = result.status_code, result.http_status
    kind = result.classification
    if kind is Classification.SUCCESS:
        return queue.Outcome(c.id, "submitted", code, http, message_id=result.message_id)
    if kind is Classification.PERMANENT:
        return queue.Outcome(
            c.id, "failed", code, http, reason=f"MMSC refused: {code} {result.status_text}"[:300]
        )
    if kind is Classification.LINK_MISCONFIGURED:
        return queue.Outcome(
            c.id, "queued", code, http, reason="link misconfigured", retry_in_s=30.0
        )
    if c.attempts >= queue.MAX_ATTEMPTS:
        return queue.Outcome(
            c.id, "failed", code, http, reason=f"gave up after {c.attempts} attempts: {code}"
        )
    return queue.Outcome(
        c.id,
        "queued",
        code,
        http,
        reason=f"retrying: {code} {result.status_text}"[:300],
        retry_in_s=queue.backoff_s(c.attempts),
    )
