"""The simulator's side of delivery reports: DeliveryReportReq posts back to the VASP URL."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from datetime import UTC, datetime

import httpx

from alerts.dispatch.connectors.base import Address, AddressKind
from alerts.dispatch.connectors.mm7 import basic_authorization, read_response
from alerts.dispatch.connectors.mm7_xml import (
    ReportFacts,
    delivery_report_req_xml,
)
from alerts.mmsc.config import ReportPlan, SimulatorConfig
from alerts.mmsc.store import Stats, StoredMessage

log = logging.getLogger(__name__)
POST_CONCURRENCY = 32


class ReportSender:
    """Schedules and posts delivery reports with the configured delays, losses and duplicates."""

    def __init__(self, stats: Stats, rng: random.Random) -> None:
        self._stats = stats
        self._rng = rng
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.client: httpx.AsyncClient | None = None
        # Posts wait here rather than in httpx's pool: its queue is scanned per request, so
        # thousands of queued reports there cost quadratic time on the event loop.
        self._posting = asyncio.Semaphore(POST_CONCURRENCY)

    @property
    def in_flight(self) -> int:
        """Reports scheduled but not yet done."""
        return len(self._tasks)

    def schedule(self, message: StoredMessage, cfg: SimulatorConfig) -> None:
        """Plan one report per recipient of an accepted message."""
        if cfg.vasp_url is None:
            return
        for recipient in message.recipients:
            if self._rng.random() < cfg.reports.loss_rate:
                self._stats.counters["dr_lost"] += 1
                continue
            copies = 2 if self._rng.random() < cfg.reports.duplicate_rate else 1
            self._stats.counters["dr_duplicated"] += copies - 1
            mm_status = self._outcome(cfg.reports)
            for _ in range(copies):
                self._start(message, recipient, mm_status, cfg)

    def _start(
        self, message: StoredMessage, recipient: Address, mm_status: str, cfg: SimulatorConfig
    ) -> None:
        if len(self._tasks) >= cfg.reports.max_in_flight:
            self._stats.counters["dr_dropped"] += 1
            return
        task = asyncio.create_task(self._deliver(message, recipient, mm_status, cfg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _delay(self, plan: ReportPlan) -> float:
        delay = plan.delay_s + self._rng.uniform(0.0, plan.jitter_s)
        if self._rng.random() < plan.slow_rate:
            delay += plan.slow_delay_s
        return delay

    def _outcome(self, plan: ReportPlan) -> str:
        names = list(plan.outcomes)
        return self._rng.choices(names, weights=[plan.outcomes[n] for n in names])[0]

    async def _deliver(
        self, message: StoredMessage, recipient: Address, mm_status: str, cfg: SimulatorConfig
    ) -> None:
        await asyncio.sleep(self._delay(cfg.reports))
        if message.state == "cancelled":
            self._stats.counters["dr_cancelled"] += 1
            return
        message.reports[recipient.value] = mm_status
        facts = ReportFacts(
            message_id=message.message_id,
            recipient=Address(recipient.value, recipient.kind),
            sender=message.sender or Address(cfg.default_sender, AddressKind.SHORT_CODE),
            date=datetime.now(UTC),
            mm_status=mm_status,
            status_text=mm_status,
        )
        body = delivery_report_req_xml(
            message.namespace, message.version, f"dr-{next(self._ids)}", facts
        )
        await self._post(body, cfg)

    async def _post(self, body: bytes, cfg: SimulatorConfig) -> None:
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": '""'}
        auth = basic_authorization(cfg.vasp_username, cfg.vasp_password)
        if auth:
            headers["Authorization"] = auth
        for attempt in range(cfg.reports.attempts):
            if await self._try_post(str(cfg.vasp_url), body, headers):
                self._stats.counters["dr_sent"] += 1
                return
            await asyncio.sleep(0.2 * (attempt + 1))
        self._stats.counters["dr_failed"] += 1

    async def _try_post(self, url: str, body: bytes, headers: dict[str, str]) -> bool:
        if self.client is None:
            return False
        try:
            async with self._posting:
                response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("delivery report post failed: %s", type(exc).__name__)
            return False
        _, status, _ = read_response(
            response.status_code, response.headers.get("content-type"), response.content
        )
        return status.code == 1000

    async def close(self) -> None:
        """Cancel pending reports (on shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
