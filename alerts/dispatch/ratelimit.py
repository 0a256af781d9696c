"""Rate limits per MMSC link, held globally across worker processes.

A token bucket per link: ``rate`` tokens a second, at most ``burst`` saved up, one token per
SubmitReq. On PostgreSQL the bucket is a row in ``link_bucket`` refilled and drawn in one atomic
UPDATE, so every worker process on every host shares it; under SQLite (one process) the same
arithmetic runs in memory. In any one-second window at most ``rate + burst`` requests are
granted, so the limiter is configured with ``rate = 0.9 * limit`` and ``burst = 0.1 * limit``:
the MMSC's limit is never exceeded and the link runs at 90 % of it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SAFETY = 0.9


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """Refill rate (tokens/s) and capacity of a link's bucket, derived from the MMSC's limit."""

    rate: float
    burst: float

    @classmethod
    def for_limit(cls, limit_per_s: float) -> BucketSpec:
        """The bucket that keeps every one-second window within ``limit_per_s``."""
        return cls(rate=limit_per_s * SAFETY, burst=max(1.0, limit_per_s * (1 - SAFETY)))


@dataclass
class MemoryBucket:
    """In-process bucket (SQLite / single process)."""

    spec: BucketSpec
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self, n: int) -> tuple[int, float]:
        """Grant up to ``n`` tokens now; returns (granted, seconds to wait before asking again)."""
        now = time.monotonic()
        self.tokens = min(self.spec.burst, self.tokens + (now - self.stamp) * self.spec.rate)
        self.stamp = now
        granted = min(n, int(self.tokens))
        self.tokens -= granted
        return granted, 0.0 if granted else (1 - self.tokens) / self.spec.rate


_PG_TAKE = sa.text(
    """
    WITH refill AS (
      SELECT link, LEAST(:burst, tokens + EXTRACT(EPOCH FROM (clock_timestamp() - updated_at)) * :rate) AS t
      FROM link_bucket WHERE link = :link FOR UPDATE
    )
    UPDATE link_bucket b SET tokens = r.t - LEAST(:n, FLOOR(r.t)), updated_at = clock_timestamp()
    FROM refill r WHERE b.link = r.link
    RETURNING LEAST(:n, FLOOR(r.t))::int AS granted, r.t - LEAST(:n, FLOOR(r.t)) AS left_over
    """
)


@dataclass
class PostgresBucket:
    """The shared bucket row of one link in PostgreSQL."""

    engine: Engine
    link: str
    spec: BucketSpec

    def ensure(self) -> None:
        """Create the link's row if it does not exist."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO link_bucket (link, tokens, updated_at) VALUES (:l, 0, now()) "
                    "ON CONFLICT (link) DO NOTHING"
                ),
                {"l": self.link},
            )

    def take(self, n: int) -> tuple[int, float]:
        """Grant up to ``n`` tokens atomically; returns (granted, seconds to wait when none)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                _PG_TAKE,
                {"link": self.link, "n": n, "rate": self.spec.rate, "burst": self.spec.burst},
            ).one()
        granted, left = int(row[0]), float(row[1])
        return granted, 0.0 if granted else max(0.001, (1 - left) / self.spec.rate)


class Bucket:
    """Async front of a memory or PostgreSQL bucket, or no limit at all."""

    def __init__(self, backend: MemoryBucket | PostgresBucket | None) -> None:
        self.backend = backend

    async def acquire(self, n: int) -> int:
        """Wait until at least one token is granted; returns how many (<= n)."""
        if self.backend is None:
            return n
        while True:
            if isinstance(self.backend, PostgresBucket):
                granted, wait = await asyncio.to_thread(self.backend.take, n)
            else:
                granted, wait = self.backend.take(n)
            if granted:
                return granted
            await asyncio.sleep(min(wait, 0.5))


def make_bucket(engine: Engine, link: str, limit_per_s: float | None) -> Bucket:
    """The right bucket for the database behind ``engine``."""
    if not limit_per_s:
        return Bucket(None)
    spec = BucketSpec.for_limit(limit_per_s)
    if engine.dialect.name == "postgresql":
        backend = PostgresBucket(engine, link, spec)
        backend.ensure()
        return Bucket(backend)
    return Bucket(MemoryBucket(spec))
