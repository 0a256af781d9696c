"""The simulator's side of delivery reports: DeliveryReportReq posts back to the VASP URL.

Reports wait in one time-ordered heap rather than as a task each (a 500,000-recipient alert
would otherwise be 500,000 sleeping tasks); a pump moves the due ones, in batches, to a fixed
set of posters that send them over keep-alive connections, ``POST_CONCURRENCY`` at a time. On
plain-HTTP VASP URLs (``raw`` on) each poster owns one HTTP/1.1 connection and writes the
request bytes itself, so the simulator is not what limits a delivery-report benchmark;
otherwise (HTTPS, the embedded simulator) the posts go through the shared httpx client.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

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
_SUCCESS = re.compile(rb"StatusCode>\s*1000\s*<")
_MARKS = ("@@TID@@", "@@MID@@", "@@RCPT@@", "@@DATE@@", "@@STATUS@@", "@@TEXT@@")


@dataclass(slots=True)
class _Report:
    """One DeliveryReportReq to post (and how often it was tried)."""

    message: StoredMessage
    recipient: Address
    mm_status: str
    attempt: int = 0


class _Template:
    """A DeliveryReportReq built once per (namespace, version, address kinds, sender) and filled
    in by string substitution (XML-escaped), instead of an lxml tree per report."""

    def __init__(self, ns: str, version: str, kind: AddressKind, sender: Address) -> None:
        facts = ReportFacts(
            message_id=_MARKS[1],
            recipient=Address(_MARKS[2], kind),
            sender=sender,
            date=datetime(2000, 1, 1, tzinfo=UTC),
            mm_status=_MARKS[4],
            status_text=_MARKS[5],
        )
        text = delivery_report_req_xml(ns, version, _MARKS[0], facts).decode("utf-8")
        text = text.replace("2000-01-01T00:00:00Z", _MARKS[3])
        self._pieces = re.split("(" + "|".join(re.escape(m) for m in _MARKS) + ")", text)

    def render(self, values: dict[str, str]) -> bytes:
        """The envelope with the marks replaced by (escaped) values."""
        return "".join(escape(values[p]) if p in values else p for p in self._pieces).encode()


class _RawConnection:
    """One HTTP/1.1 keep-alive connection to the VASP (plain HTTP on loopback or a LAN)."""

    IDLE_S = 2.0  # servers close idle keep-alive connections (uvicorn after 5 s)

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = 0.0

    async def post(self, head: bytes, body: bytes, timeout: float) -> tuple[int, bytes]:
        """Send one request; returns (HTTP status, body).

        A kept-alive connection the server has closed meanwhile fails on first use: that
        attempt is repeated at once on a new connection (nothing was processed).
        """
        loop = asyncio.get_running_loop()
        if self._writer is not None and loop.time() - self._used > self.IDLE_S:
            self.close()
        reused = self._writer is not None
        try:
            return await self._send(head, body, timeout)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
            if not reused or partial:
                raise
        return await self._send(head, body, timeout)

    async def _send(self, head: bytes, body: bytes, timeout: float) -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout
            )
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        try:
            writer.write(head + body)
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status, length, close = _parse_head(raw)
            data = await asyncio.wait_for(reader.readexactly(length), timeout)
        except BaseException:
            self.close()
            raise
        self._used = asyncio.get_running_loop().time()
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        """Drop the connection (the next post opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parse_head(raw: bytes) -> tuple[int, int, bool]:
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding":
            raise OSError("chunked response to a delivery report")
    return status, length, close


class ReportSender:
    """Schedules and posts delivery reports with the configured delays, losses and duplicates."""

    def __init__(self, stats: Stats, rng: random.Random) -> None:
        self._stats = stats
        self._rng = rng
        self._heap: list[tuple[float, int, _Report]] = []
        self._ready: asyncio.Queue[_Report] | None = None
        self._wake: asyncio.Event | None = None
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._posting = 0
        self._templates: dict[tuple[str, str, AddressKind, Address], _Template] = {}
        self._weights: dict[
            tuple[tuple[str, float], ...], tuple[tuple[str, ...], tuple[float, ...]]
        ] = {}
        self._cfg: SimulatorConfig | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heads: dict[tuple[str, str | None], bytes] = {}
        self.client: httpx.AsyncClient | None = None
        self.raw = False  # plain-HTTP VASP URLs through our own keep-alive connections

    @property
    def in_flight(self) -> int:
        """Reports scheduled but not yet done."""
        queued = self._ready.qsize() if self._ready is not None else 0
        return len(self._heap) + queued + self._posting

    def schedule(self, message: StoredMessage, cfg: SimulatorConfig) -> None:
        """Plan one report per recipient of an accepted message."""
        if cfg.vasp_url is None:
            return
        self._cfg = cfg
        loop = asyncio.get_running_loop()
        now = loop.time()
        for recipient in message.recipients:
            if self._rng.random() < cfg.reports.loss_rate:
                self._stats.counters["dr_lost"] += 1
                continue
            copies = 2 if self._rng.random() < cfg.reports.duplicate_rate else 1
            self._stats.counters["dr_duplicated"] += copies - 1
            mm_status = self._outcome(cfg.reports)
            for _ in range(copies):
                if self.in_flight >= cfg.reports.max_in_flight:
                    self._stats.counters["dr_dropped"] += 1
                    if self._stats.counters["dr_dropped"] % 1000 == 1:
                        log.warning(
                            "simulator: %d delivery reports pending (max_in_flight): dropping",
                            self.in_flight,
                        )
                    continue
                due = now + self._delay(cfg.reports)
                heapq.heappush(
                    self._heap, (due, next(self._seq), _Report(message, recipient, mm_status))
                )
        self._start(loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:  # a new event loop (restarted server, another test)
            self._tasks.clear()
            self._wake = None
            self._loop = loop
        if self._wake is None:
            self._wake = asyncio.Event()
            self._ready = asyncio.Queue()
        if not self._tasks:
            self._spawn(loop, self._pump())
            for _ in range(POST_CONCURRENCY):
                self._spawn(loop, self._poster())
        self._wake.set()

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: object) -> None:
        task: asyncio.Task[None] = loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _delay(self, plan: ReportPlan) -> float:
        delay = plan.delay_s + self._rng.uniform(0.0, plan.jitter_s)
        if self._rng.random() < plan.slow_rate:
            delay += plan.slow_delay_s
        return delay

    def _outcome(self, plan: ReportPlan) -> str:
        # The same draw as ``choices(names, weights=...)``, with the cumulative weights worked
        # out once per plan rather than once per recipient.
        key = tuple(plan.outcomes.items())
        found = self._weights.get(key)
        if found is None:
            names = tuple(n for n, _ in key)
            found = self._weights[key] = (names, tuple(itertools.accumulate(w for _, w in key)))
        return self._rng.choices(found[0], cum_weights=found[1])[0]

    async def _pump(self) -> None:
        """Move due reports to the posters, in batches, sleeping until the next one is due."""
        assert self._wake is not None
        assert self._ready is not None
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            while self._heap and self._heap[0][0] <= now:
                self._ready.put_nowait(heapq.heappop(self._heap)[2])
            self._wake.clear()
            timeout = (self._heap[0][0] - now) if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _retry_later(self, report: _Report, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        heapq.heappush(self._heap, (loop.time() + seconds, next(self._seq), report))
        assert self._wake is not None
        self._wake.set()

    async def _poster(self) -> None:
        """Post reports one after another over this poster's connection."""
        conn: _RawConnection | None = None
        try:
            while True:
                conn = await self._post_next(conn)
        finally:
            if conn is not None:
                conn.close()

    async def _post_next(self, conn: _RawConnection | None) -> _RawConnection | None:
        """Post the next ready report; returns the poster's connection (opened on first use)."""
        assert self._ready is not None
        report = await self._ready.get()
        cfg = self._cfg
        assert cfg is not None
        if report.message.state == "cancelled":
            self._stats.counters["dr_cancelled"] += 1
            return conn
        self._posting += 1
        try:
            url = str(cfg.vasp_url)
            if self.raw and url.startswith("http://"):
                if conn is None:
                    parts = urlsplit(url)
                    conn = _RawConnection(parts.hostname or "127.0.0.1", parts.port or 80)
                ok = await self._post_raw(conn, report, cfg)
            else:
                ok = await self._post_httpx(report, cfg)
            if ok:
                self._stats.counters["dr_sent"] += 1
            elif report.attempt + 1 < cfg.reports.attempts:
                report.attempt += 1
                self._retry_later(report, 0.2 * report.attempt)
            else:
                self._stats.counters["dr_failed"] += 1
        except Exception:  # a poster must survive anything one report does
            log.exception("delivery report poster failed")
        finally:
            self._posting -= 1
        return conn

    def _body(self, report: _Report, cfg: SimulatorConfig) -> bytes:
        message, recipient = report.message, report.recipient
        message.reports[recipient.value] = report.mm_status
        sender = message.sender or Address(cfg.default_sender, AddressKind.SHORT_CODE)
        key = (message.namespace, message.version, recipient.kind, sender)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = _Template(*key)
        return template.render(
            {
                _MARKS[0]: f"dr-{next(self._ids)}",
                _MARKS[1]: message.message_id,
                _MARKS[2]: recipient.value,
                _MARKS[3]: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                _MARKS[4]: report.mm_status,
                _MARKS[5]: report.mm_status,
            }
        )

    def _headers(self, cfg: SimulatorConfig) -> dict[str, str]:
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": '""'}
        auth = basic_authorization(cfg.vasp_username, cfg.vasp_password)
        if auth:
            headers["Authorization"] = auth
        return headers

    async def _post_raw(self, conn: _RawConnection, report: _Report, cfg: SimulatorConfig) -> bool:
        body = self._body(report, cfg)
        headers = self._headers(cfg)
        key = (str(cfg.vasp_url), headers.get("Authorization"))
        prefix = self._heads.get(key)
        if prefix is None:
            parts = urlsplit(key[0])
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            prefix = self._heads[key] = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        head = prefix + b"Content-Length: %d\r\n\r\n" % len(body)
        try:
            status, data = await conn.post(head, body, 5.0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.warning("delivery report post failed: %s", type(exc).__name__)
            return False
        return _accepted(status, data)

    async def _post_httpx(self, report: _Report, cfg: SimulatorConfig) -> bool:
        if self.client is None:
            return False
        body = self._body(report, cfg)
        try:
            response = await self.client.post(
                str(cfg.vasp_url), content=body, headers=self._headers(cfg)
            )
        except httpx.HTTPError as exc:
            log.warning("delivery report post failed: %s", type(exc).__name__)
            return False
        return _accepted(
            response.status_code, response.content, response.headers.get("content-type")
        )

    async def close(self) -> None:
        """Cancel pending reports (on shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._heap.clear()
        self._ready = None
        self._wake = None
        self._loop = None


def _accepted(status: int, body: bytes, content_type: str | None = None) -> bool:
    """True when the VASP answered 1000 (the fast check first, the full parse otherwise)."""
    if status == 200 and _SUCCESS.search(body):
        return True
    _, mm7, _ = read_response(status, content_type or 'text/xml; charset="utf-8"', body)
    return mm7.code == 1000
