"""Circuit breaker per MMSC link: open after repeated retryable failures, probe half-open."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    """Breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    """Opens after ``threshold`` consecutive failed batches with nothing through for ``quiet_s``.

    The cooldown doubles with each failed probe, up to ``max_cooldown_s``.
    """

    threshold: int = 5
    base_cooldown_s: float = 1.0
    max_cooldown_s: float = 30.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opens: int = 0
    reopen_at: float = 0.0
    probing: bool = False
    quiet_s: float = 1.0
    last_success: float = 0.0
    transitions: list[tuple[float, BreakerState]] = field(default_factory=list)

    def _set(self, state: BreakerState) -> None:
        if state is not self.state:
            self.state = state
            self.transitions.append((time.monotonic(), state))

    def allow(self) -> bool:
        """May a batch go now? In half-open only one probe batch goes at a time."""
        if self.state is BreakerState.OPEN and time.monotonic() >= self.reopen_at:
            self._set(BreakerState.HALF_OPEN)
            self.probing = False
        if self.state is BreakerState.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return self.state is BreakerState.CLOSED

    def probe_undecided(self) -> None:
        """The probe sent nothing or got no verdict (no due rows, an error): let another go.

        Without this a half-open breaker whose probe found no due rows (all in backoff after
        the outage) would never probe again and the worker would stop for good.
        """
        if self.state is BreakerState.HALF_OPEN:
            self.probing = False

    def wait_s(self) -> float:
        """Seconds until the next probe may go (0 when closed)."""
        return (
            max(0.0, self.reopen_at - time.monotonic()) if self.state is BreakerState.OPEN else 0.0
        )

    def success(self) -> None:
        """A batch got through: close."""
        self.failures = 0
        self.opens = 0
        self.last_success = time.monotonic()
        self._set(BreakerState.CLOSED)

    def failure(self, *, hard: bool = False) -> None:
        """A batch failed retryably (or the link is misconfigured: ``hard`` opens at once)."""
        self.failures += 1
        # Only a link where nothing got through for ``quiet_s`` is down: a throttling MMSC
        # (some accepted, some 4006/503) interleaves successes and must not trip the breaker.
        down = time.monotonic() - self.last_success >= self.quiet_s
        tripped = self.failures >= self.threshold and down
        if hard or self.state is BreakerState.HALF_OPEN or tripped:
            self.opens += 1
            cooldown = min(self.max_cooldown_s, self.base_cooldown_s * 2 ** (self.opens - 1))
            if hard:
                cooldown = self.max_cooldown_s
            self.reopen_at = time.monotonic() + cooldown
            self._set(BreakerState.OPEN)
