"""The MMSC side of MM7: answer SubmitReq / CancelReq / ReplaceReq the way a strict MMSC would."""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alerts.dispatch.connectors.mm7 import basic_authorization
from alerts.dispatch.connectors.mm7_mime import Mm7Http, split_mm7_http
from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
    Mm7Status,
    SoapMessage,
    find_text,
    parse_soap,
)
from alerts.dispatch.connectors.mm7_xml import (
    REL6_NS,
    REL6_VERSION,
    fault_xml,
    rsp_xml,
)
from alerts.mmsc.config import SimulatorConfig
from alerts.mmsc.faults import Throttle, draw, in_outage, latency_s
from alerts.mmsc.reports import ReportSender
from alerts.mmsc.schema import Mm7Schema
from alerts.mmsc.store import MessageStore, Stats, StoredMessage
from alerts.mmsc.validate import Rejection, check_envelope, check_replace_content, check_submit

XML_TYPE = 'text/xml; charset="utf-8"'


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer of the simulator."""

    status: int
    body: bytes
    content_type: str = XML_TYPE
    headers: dict[str, str] = field(default_factory=dict)


class Simulator:
    """State and behaviour of one simulated MMSC (config may be replaced at run time)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.schema = Mm7Schema(config.schema_dir)
        self.rng = random.Random(config.seed)
        self.stats = Stats()
        self.store = MessageStore(config.store_limit)
        self.reports = ReportSender(self.stats, self.rng)
        self._throttle = Throttle()
        self._prefix = secrets.token_hex(3)
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget messages and statistics."""
        self.store = MessageStore(self.config.store_limit)
        self.stats = Stats()
        self.reports._stats = self.stats

    def authorised(self, authorization: str | None) -> bool:
        """HTTP basic check against the configured credentials (open if none configured)."""
        expected = basic_authorization(self.config.username, self.config.password)
        if expected is None:
            return True
        return authorization is not None and secrets.compare_digest(authorization, expected)

    async def handle(
        self,
        body: bytes,
        content_type: str | None,
        authorization: str | None,
        *,
        content_length: bool = True,
    ) -> Answer:
        """Answer one POST /mm7 (`content_length`: the request had one and was not chunked)."""
        self.stats.request()
        early = self._gate(authorization)
        if early is not None:
            return early
        delay = latency_s(self.config.faults, self.rng)
        if delay:
            await asyncio.sleep(delay)
        http_error = draw(self.config.faults.http_error_rates, self.rng)
        if http_error is not None:
            self.stats.counters[f"http_{http_error}"] += 1
            return Answer(http_error, b"injected HTTP error\n", "text/plain")
        if not content_length:
            details = "Content-Length required, chunked transfer encoding refused"
            return self._fault(None, None, Rejection(2007, "Message format corrupt", details))
        return self._answer(body, content_type)

    def _gate(self, authorization: str | None) -> Answer | None:
        faults = self.config.faults
        if not self.authorised(authorization):
            self.stats.counters["unauthorised"] += 1
            headers = {"WWW-Authenticate": 'Basic realm="mm7"'}
            return Answer(401, b"unauthorised\n", "text/plain", headers)
        if in_outage(faults, time.monotonic() - self.stats.started):
            self.stats.counters["outage"] += 1
            return Answer(503, b"outage\n", "text/plain", {"Retry-After": "1"})
        if self._throttle.over(faults.throttle_rps):
            self.stats.counters["throttled"] += 1
            if faults.throttle_response == "503":
                return Answer(503, b"throttled\n", "text/plain", {"Retry-After": "1"})
            return self._fault(None, None, Rejection(4006, "Service unavailable", "throttled"))
        return None

    def _answer(self, body: bytes, content_type: str | None) -> Answer:
        message: SoapMessage | None = None
        try:
            http = split_mm7_http(body, content_type)
            message = parse_soap(http.soap, recover=False)
            check_envelope(message, http.soap, self.config, self.schema)
            return self._operation(message, http)
        except Mm7ParseError as exc:
            return self._fault(
                message, None, Rejection(2007, "Message format corrupt", str(exc)[:200])
            )
        except Rejection as rejection:
            return self._fault(message, message.transaction_id if message else None, rejection)

    def _operation(self, message: SoapMessage, http: Mm7Http) -> Answer:
        name = message.name
        if name == "SubmitReq":
            return self._submit(message, http)
        if name == "CancelReq":
            return self._cancel(message)
        if name == "ReplaceReq":
            return self._replace(message, http)
        raise Rejection(4003, "Unsupported operation", name)

    def _submit(self, message: SoapMessage, http: Mm7Http) -> Answer:
        facts = check_submit(message, http, self.config)
        injected = draw(self.config.faults.error_rates, self.rng)
        if injected is not None:
            raise Rejection(injected, "Injected error")
        stored = StoredMessage(
            message_id=f"{self._prefix}{next(self._ids):010d}",
            transaction_id=message.transaction_id or "",
            namespace=message.namespace or REL6_NS,
            version=find_text(message.element, "MM7Version") or REL6_VERSION,
            received_at=datetime.now(UTC),
            sender=facts.sender,
            recipients=facts.recipients,
            subject=facts.subject,
            priority=facts.priority,
            parts=facts.parts,
        )
        self.store.add(stored)
        self.reports.schedule(stored, self.config)
        self.stats.answered(1000, len(facts.recipients))
        status = Mm7Status(1000, "Success", message_id=stored.message_id)
        return self._rsp(message, "SubmitRsp", status)

    def _known(self, message: SoapMessage) -> StoredMessage:
        stored = self.store.get(find_text(message.element, "MessageID") or "")
        if stored is None:
            raise Rejection(2005, "Message ID Not found")
        return stored

    def _cancel(self, message: SoapMessage) -> Answer:
        stored = self._known(message)
        stored.state = "cancelled"
        self.stats.answered(1000)
        return self._rsp(message, "CancelRsp", Mm7Status(1000, "Success"))

    def _replace(self, message: SoapMessage, http: Mm7Http) -> Answer:
        stored = self._known(message)
        stored.parts = check_replace_content(message, http)
        stored.state = "replaced"
        self.stats.answered(1000)
        return self._rsp(message, "ReplaceRsp", Mm7Status(1000, "Success"))

    def _rsp(self, message: SoapMessage, name: str, status: Mm7Status) -> Answer:
        version = find_text(message.element, "MM7Version") or REL6_VERSION
        ns = message.namespace or REL6_NS
        return Answer(200, rsp_xml(ns, version, message.transaction_id or "", name, status))

    def _fault(self, message: SoapMessage | None, tid: str | None, rejection: Rejection) -> Answer:
        self.stats.answered(rejection.code)
        ns = (message.namespace if message else None) or REL6_NS
        version = (find_text(message.element, "MM7Version") if message else None) or REL6_VERSION
        status = Mm7Status(rejection.code, rejection.text, rejection.details)
        body = fault_xml(ns, version, tid, status)
        return Answer(self.config.faults.fault_http_status, body)
