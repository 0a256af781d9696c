"""Dispatch workers: claim batches, submit MM7 under the global rate limit, record outcomes.

Several workers may run per host and on several hosts; they coordinate only through row
locks and leases in the ``delivery`` table. A worker killed mid-batch loses nothing: its
lease runs out and another worker re-sends at most that batch (recognisable by its
TransactionID, which is derived from the batch id).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
SMALL_BATCH = 100  # rows per batch when a request carries few recipients
REQUESTS_PER_BATCH = 10  # full multi-recipient SubmitReqs per batch
LIMITED_BATCHES = 4  # batches in flight per worker under a link rate limit


@dataclass(frozen=True, slots=True)
class CachedContent:
    """What a worker keeps per content row."""

    subject: str
    mms: MmsContent
    high: bool
    expires_at: object


@dataclass
class BatchTimings:
    """Where a worker's batches spend their time (claim, submit, record), for benchmarks."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)  # claim steps, summed
    rows: int = 0

    def add(self, stage: str, seconds: float) -> None:
        """Count one batch's time in ``stage``."""
        self.sums[stage] = self.sums.get(stage, 0.0) + seconds
        self.counts[stage] = self.counts.get(stage, 0) + 1
        self.maxima[stage] = max(self.maxima.get(stage, 0.0), seconds)

    def summary(self) -> str:
        """One line: batches, rows, mean and max milliseconds per stage."""
        parts = [f"rows={self.rows}"]
        for stage in ("claim", "submit", "record"):
            n = self.counts.get(stage, 0)
            if n:
                mean = self.sums[stage] / n * 1000
                parts.append(
                    f"{stage}: n={n} mean={mean:.1f}ms max={self.maxima[stage] * 1000:.0f}ms"
                )
        claims = self.counts.get("claim", 0)
        if claims and self.stages:
            steps = ", ".join(f"{k}={v / claims * 1000:.1f}" for k, v in self.stages.items())
            parts.append(f"claim steps ms: {steps}")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Batch:
    """One claim: its id, rows, whether they are ``submitting`` already, and when it was made."""

    batch_id: str
    rows: list[queue.Claimed]
    submitting: bool
    claimed_at: float  # time.monotonic()


@dataclass
class WorkerConfig:
    """Batch size, concurrency, lease and polling of one worker."""

    batch_size: int = 1000
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
    _reclaim_at: float = 0.0
    _idle: bool = True  # the last claim found nothing
    _cursor: queue.ClaimCursor = field(default_factory=queue.ClaimCursor)
    timings: BatchTimings = field(default_factory=lambda: BatchTimings())
    _pool: ThreadPoolExecutor | None = None
    _sem: asyncio.Semaphore | None = None

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
                if len(tasks) >= self._max_batches():
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                got = await self._db(self._claim)
                if got is None:
                    await self._sleep(stop, DB_RETRY_S)
                    continue
                if not got.rows:
                    self.breaker.probe_undecided()
                    await self._sleep(stop, self.config.idle_poll_s)
                    continue
                task = asyncio.create_task(self._process(got))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            if tasks:
                await asyncio.wait(tasks, timeout=self.config.lease_s)
            if self.timings.rows:
                log.info("worker %s batch timings: %s", self.worker_id, self.timings.summary())
            try:
                await self._thread(
                    queue.release, self.engine, sorted(self._held), reason="worker stopped"
                )
            finally:
                if self._pool is not None:
                    self._pool.shutdown(wait=False)
                    self._pool = None

    async def _thread(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a blocking (database) call in the worker's own thread pool.

        The event loop's default pool has min(32, cores + 4) threads: six on two cores, for
        ``concurrency`` batches that each claim, begin, renew and record, plus sweeps. Its
        queue, not the database, was where batches waited.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.config.concurrency + 4, thread_name_prefix="worker-db"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def _db(self, fn: Callable[..., T], *args: object) -> T | None:
        """Run a queue call off the loop; None when the database is unreachable.

        A PostgreSQL restart or failover must not end the worker: it logs, waits and retries
        (the pool's pre-ping reconnects), and held rows keep their lease meanwhile.
        """
        try:
            return await self._thread(fn, *args)
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
        per_request = max(1, int(getattr(self.connector, "max_recipients", 1)))
        # Whole SubmitReqs: a claim holds one (alert, content), so every request but the last
        # of a content carries the link's max_recipients.
        # At most a few requests per batch: everything a worker holds in ``submitting`` is what
        # a cancel waits for, and single-recipient batches of 500 kept 16,000 rows in flight.
        size = min(self.config.batch_size, max(SMALL_BATCH, per_request * REQUESTS_PER_BATCH))
        size = max(per_request, size // per_request * per_request)
        if limit:
            # Keep everything this worker has in flight to about a quarter second of the
            # link's rate, so a cancel never waits long for submits already under way, an
            # outage trips the breaker before much more is sent, and no batch waits for tokens
            # anywhere near its lease. The same budget as before, in a few larger batches
            # rather than ``concurrency`` tiny ones: a claim of 400 rows costs little more than
            # one of 100, and a worker makes its claims one at a time.
            per_batch = max(1, self._budget(limit) // self._max_batches())
            size = min(size, per_batch * per_request)
        return size

    def _budget(self, limit: float) -> int:
        """SubmitReqs one worker may have in flight under a link limit: a quarter second of
        the rate, and never less than one per batch of ``concurrency`` (as it always was)."""
        concurrency = self.config.concurrency
        return concurrency * max(1, int(limit * 0.25 / concurrency))

    def _max_batches(self) -> int:
        """Batches in flight at once: ``concurrency``, fewer under a link limit."""
        limit = self.bucket.backend.spec.rate if self.bucket.backend is not None else None
        if not limit:
            return self.config.concurrency
        return min(self.config.concurrency, LIMITED_BATCHES)

    def _direct(self) -> bool:
        """Whether claims go straight to ``submitting``: only when no batch waits for rate-limit
        tokens, so a cancel never waits on rows that are not actually being sent."""
        return self.bucket.backend is None

    def _claim(self) -> Batch:
        self._batches += 1
        batch_id = f"{self.worker_id}-{self._batches}"
        started = time.perf_counter()
        n, lease_s = self._batch_size(), self.config.lease_s
        if self._idle:
            # The first claim after an idle spell is one SubmitReq: the first message of a new
            # alert leaves sooner (a 1,000-row claim and record cost ten times as much), and
            # the full batches follow at once.
            n = min(n, max(1, int(getattr(self.connector, "max_recipients", 1))))
        rows: list[queue.Claimed] = []
        submitting = False
        if time.monotonic() >= self._reclaim_at:
            # Expired leases are looked for about once a second (a separate, cheap query).
            self._reclaim_at = time.monotonic() + min(1.0, lease_s / 10)
            rows = queue.reclaim(self.engine, batch_id=batch_id, n=n, lease_s=lease_s)
        if not rows:
            submitting = self._direct()
            rows = queue.claim(
                self.engine,
                batch_id=batch_id,
                n=n,
                lease_s=lease_s,
                stages=self.timings.stages,
                submitting=submitting,
                cursor=self._cursor,
            )
        if rows:
            self.timings.add("claim", time.perf_counter() - started)
        self._idle = not rows
        self._held.update(r.id for r in rows)
        return Batch(batch_id, rows, submitting, time.monotonic())

    async def _process(self, batch: Batch) -> int:
        try:
            return await self._process_batch(batch)
        except Exception:
            # The rows keep their lease: another claim picks them up when it runs out.
            log.exception(
                "batch %s failed; its %d deliveries return after the lease",
                batch.batch_id,
                len(batch.rows),
            )
            return 0
        finally:
            self._held.difference_update(r.id for r in batch.rows)
            self.breaker.probe_undecided()

    async def _process_batch(self, batch: Batch) -> int:
        claimed, batch_id = batch.rows, batch.batch_id
        alert_id = claimed[0].alert_id
        contents = await self._thread(self._load_contents, {c.content_id for c in claimed})
        now = utcnow()
        expired = {c.id for c in claimed if _expired(contents[c.content_id].expires_at, now)}
        if expired:
            await self._thread(
                queue.release,
                self.engine,
                sorted(expired),
                to_state="expired",
                reason="alert expired",
            )
        live = [c for c in claimed if c.id not in expired]
        if batch.submitting:
            sending = live
        else:
            moved = set(
                await self._thread(queue.begin_submit, self.engine, [c.id for c in live], batch_id)
            )
            sending = [c for c in live if c.id in moved]
        if not sending:
            return 0
        started = time.perf_counter()
        outcomes = await self._submit_all(sending, contents, batch_id, batch.claimed_at)
        sent = time.perf_counter()
        await self._thread(queue.record, self.engine, alert_id, batch_id, outcomes)
        self.timings.add("submit", sent - started)
        self.timings.add("record", time.perf_counter() - sent)
        self.timings.rows += len(sending)
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
        self,
        rows: list[queue.Claimed],
        contents: dict[int, CachedContent],
        batch_id: str,
        claimed_at: float,
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
        sem = self._requests_in_flight()
        pending: list[asyncio.Task[list[queue.Outcome]]] = []
        n = 0
        # Renew before a send once a third of the lease has passed since the claim (a long
        # wait for tokens must not outlast it); a batch sent at once needs no renewal first.
        renew_at = claimed_at + self.config.lease_s / 3
        limited = self.bucket.backend is not None
        while n < len(requests):
            if time.monotonic() >= renew_at:  # a long wait for tokens must not outlast the lease
                requests = requests[:n] + await self._still_held(rows, requests[n:], batch_id)
                renew_at = time.monotonic() + self.config.lease_s / 3
                if n >= len(requests):
                    break
            held = await _take_slots(sem, len(requests) - n) if limited else 0
            try:
                granted = await self.bucket.acquire(held or len(requests) - n)
            except BaseException:
                for _ in range(held):
                    sem.release()
                raise
            for _ in range(held - granted):
                sem.release()
            for cid, chunk in requests[n : n + granted]:
                n_req = len(pending) + 1
                submit = self._submit_one(
                    sem, contents[cid], chunk, f"{batch_id}.{n_req}", holding=limited
                )
                pending.append(asyncio.create_task(submit))
            n += granted
        await self._await_renewing(pending, rows, batch_id, renew_at)
        for task in pending:
            results.extend(task.result())
        return results

    def _requests_in_flight(self) -> asyncio.Semaphore:
        """The worker's bound on SubmitReqs under way, shared by all its batches."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.config.concurrency * 4)
        return self._sem

    async def _await_renewing(
        self,
        pending: list[asyncio.Task[list[queue.Outcome]]],
        rows: list[queue.Claimed],
        batch_id: str,
        renew_at: float,
    ) -> None:
        """Wait for a batch's submits, renewing its lease meanwhile.

        A slow MMSC (or a queue for the worker's request slots) can keep a batch in flight
        longer than one lease; without renewal another worker would reclaim the rows and
        submit them a second time.
        """
        waiting: set[asyncio.Task[list[queue.Outcome]]] = set(pending)
        ids = [c.id for c in rows]
        while waiting:
            timeout = max(0.0, renew_at - time.monotonic())
            _, waiting = await asyncio.wait(waiting, timeout=timeout)
            if waiting and time.monotonic() >= renew_at:
                await self._thread(queue.renew, self.engine, ids, batch_id, self.config.lease_s)
                renew_at = time.monotonic() + self.config.lease_s / 3

    async def _still_held(
        self,
        rows: list[queue.Claimed],
        unsent: list[tuple[int, list[queue.Claimed]]],
        batch_id: str,
    ) -> list[tuple[int, list[queue.Claimed]]]:
        """Renew the batch's lease; drop unsent recipients whose rows another worker took."""
        ids = [c.id for c in rows]
        held = await self._thread(queue.renew, self.engine, ids, batch_id, self.config.lease_s)
        kept = [(cid, [c for c in chunk if c.id in held]) for cid, chunk in unsent]
        return [(cid, chunk) for cid, chunk in kept if chunk]

    async def _submit_one(
        self,
        sem: asyncio.Semaphore,
        content: CachedContent,
        chunk: list[queue.Claimed],
        transaction_id: str,
        *,
        holding: bool = False,
    ) -> list[queue.Outcome]:
        """Send one SubmitReq; `holding`: the caller already took its request slot."""
        request = SubmitRequest(
            transaction_id=transaction_id,
            recipients=tuple(Address(c.recipient) for c in chunk),
            content=content.mms,
            subject=content.subject,
            priority=Priority.HIGH if content.high else Priority.NORMAL,
            expiry=content.expires_at if hasattr(content.expires_at, "tzinfo") else None,  # type: ignore[arg-type]
        )
        started = time.perf_counter()
        if holding:
            try:
                result = await self.connector.submit(request)
            finally:
                sem.release()
        else:
            async with sem:
                result = await self.connector.submit(request)
        METRICS.observe_submit(time.perf_counter() - started, result)
        return outcomes_for(result, chunk)


async def _take_slots(sem: asyncio.Semaphore, want: int) -> int:
    """Take between 1 and `want` request slots: wait for one, then take what is free now.

    On a rate-limited link the slots are taken before the tokens, so a granted SubmitReq goes
    out at once: a grant that waited for a slot would land in a later second beside that
    second's own grants, and the MMSC would see more than its limit.
    """
    await sem.acquire()
    held = 1
    while held < want and not sem.locked():
        await sem.acquire()
        held += 1
    return held


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
