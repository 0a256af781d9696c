"""Fault injection for the simulator: outages, throttling, latency, injected errors."""

from __future__ import annotations

import random
import time
from collections import deque

from alerts.mmsc.config import Faults


class Throttle:
    """Counts requests in a sliding one-second window."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def over(self, limit: float | None) -> bool:
        """Record a request; True if it is above `limit` requests in the last second."""
        now = time.monotonic()
        while self._times and now - self._times[0] >= 1.0:
            self._times.popleft()
        if limit is not None and len(self._times) >= limit:
            return True
        self._times.append(now)
        return False


def in_outage(faults: Faults, uptime_s: float) -> bool:
    """True inside any configured outage window (seconds after start)."""
    return any(start <= uptime_s < end for start, end in faults.outages)


def latency_s(faults: Faults, rng: random.Random) -> float:
    """One draw of the configured response latency, in seconds."""
    mean = faults.latency_ms / 1000.0
    if mean <= 0:
        return 0.0
    if faults.latency_distribution == "uniform":
        return rng.uniform(0.0, 2 * mean)
    if faults.latency_distribution == "exponential":
        return rng.expovariate(1.0 / mean)
    return mean


def draw(rates: dict[int, float], rng: random.Random) -> int | None:
    """Pick one injected code by its probability, or None (no fault) for the rest."""
    if not rates:
        return None
    roll = rng.random()
    for code, rate in rates.items():
        if roll < rate:
            return code
        roll -= rate
    return None
