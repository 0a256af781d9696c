"""Inbound MM7 endpoint `POST /mm7/{link}`: delivery reports, read replies, subscriber messages.

Acknowledge first, process after: the request is parsed, answered with a 1000 response echoing
its TransactionID, and the parsed message is handed to an injected async sink as a background
task that runs once the response is sent. Idempotency is the sink's job;
`DeliveryReportDeduper` / `DedupingSink` give it an in-memory helper.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, SecretStr
from starlette.background import BackgroundTask

from alerts.dispatch.connectors.mm7 import basic_authorization
from alerts.dispatch.connectors.mm7_inbound import (
    DeliveredMessage,
    DeliveryReport,
    InboundMessage,
    ReadReply,
    UnsupportedOperationError,
    parse_inbound,
    response_for,
    vasp_error,
)
from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
)

log = logging.getLogger(__name__)
XML_TYPE = 'text/xml; charset="utf-8"'


class DeliveryReportSink(Protocol):
    """Receives parsed delivery reports after they were acknowledged."""

    async def handle(self, report: DeliveryReport) -> None:
        """Process one delivery report (must be idempotent)."""


class DeliverSink(Protocol):
    """Receives messages from subscribers (DeliverReq), e.g. replies like "SAFE"."""

    async def handle(self, message: DeliveredMessage) -> None:
        """Store one subscriber message for the operator."""


class ReadReplySink(Protocol):
    """Receives read replies (ReadReplyReq)."""

    async def handle(self, reply: ReadReply) -> None:
        """Process one read reply."""


class InboundLink(BaseModel):
    """Credentials the MMSC of one link must present on our inbound endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    password: SecretStr


@dataclass(frozen=True, slots=True)
class Mm7Sinks:
    """Where each kind of inbound message goes; a missing sink answers 4003."""

    delivery_reports: DeliveryReportSink
    deliver: DeliverSink | None = None
    read_replies: ReadReplySink | None = None


class DeliveryReportDeduper:
    """Remembers the last `max_entries` (MessageID, Recipient, MMStatus) keys."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def first_time(self, report: DeliveryReport) -> bool:
        """True the first time a report's key is seen, False for repeats."""
        key = report.key
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return True


class DedupingSink:
    """A DeliveryReportSink that drops repeats before handing reports on."""

    def __init__(self, inner: DeliveryReportSink, deduper: DeliveryReportDeduper | None = None):
        self.inner = inner
        self.deduper = deduper or DeliveryReportDeduper()
        self.duplicates = 0

    async def handle(self, report: DeliveryReport) -> None:
        """Pass the report on unless it was seen before."""
        if self.deduper.first_time(report):
            await self.inner.handle(report)
        else:
            self.duplicates += 1


async def _process(sinks: Mm7Sinks, message: InboundMessage) -> None:
    try:
        if isinstance(message, DeliveryReport):
            await sinks.delivery_reports.handle(message)
        elif isinstance(message, ReadReply) and sinks.read_replies is not None:
            await sinks.read_replies.handle(message)
        elif isinstance(message, DeliveredMessage) and sinks.deliver is not None:
            await sinks.deliver.handle(message)
    except Exception:  # a failing sink must not take the endpoint down
        log.exception("MM7 inbound sink failed for %s", type(message).__name__)


def _has_sink(sinks: Mm7Sinks, message: InboundMessage) -> bool:
    if isinstance(message, ReadReply):
        return sinks.read_replies is not None
    if isinstance(message, DeliveredMessage):
        return sinks.deliver is not None
    return True


def _fault(code: int, text: str, transaction_id: str | None = None) -> Response:
    return Response(vasp_error(transaction_id, code, text), 500, media_type=XML_TYPE)


def _authorised(link: InboundLink | None, authorization: str | None) -> bool:
    if link is None or authorization is None:
        return False
    expected = basic_authorization(link.username, link.password) or ""
    return secrets.compare_digest(authorization.encode(), expected.encode())


def _parse(body: bytes, content_type: str | None) -> InboundMessage | Response:
    try:
        return parse_inbound(body, content_type)
    except UnsupportedOperationError as exc:
        return _fault(4003, "Unsupported operation", exc.message.transaction_id)
    except Mm7ParseError:
        return _fault(2007, "Message format corrupt")


def create_mm7_router(
    links: Mapping[str, InboundLink], sinks: Mm7Sinks, *, max_body_bytes: int = 2_000_000
) -> APIRouter:
    """An APIRouter serving `POST /mm7/{link}` for the given links and sinks.

    A plain Starlette route, not a FastAPI path operation: an MMSC posts one delivery report
    per recipient (hundreds of thousands per alert), and FastAPI's parameter solving and
    background-task injection were a fair share of the cost of each. The sink runs as the
    response's background task, after the acknowledgement is sent.
    """
    router = APIRouter()

    async def mm7_inbound(request: Request) -> Response:
        """Acknowledge an MMSC request at once; process it after the response."""
        link = str(request.path_params["link"])
        if not _authorised(links.get(link), request.headers.get("authorization")):
            headers = {"WWW-Authenticate": 'Basic realm="mm7"'}
            return Response("unauthorised\n", 401, headers, media_type="text/plain")
        if int(request.headers.get("content-length") or 0) > max_body_bytes:
            return Response("too large\n", 413, media_type="text/plain")
        body = await request.body()
        if len(body) > max_body_bytes:
            return Response("too large\n", 413, media_type="text/plain")
        parsed = _parse(body, request.headers.get("content-type"))
        if isinstance(parsed, Response):
            return parsed
        if not _has_sink(sinks, parsed):
            return _fault(4003, "Unsupported operation", parsed.transaction_id)
        message = dataclasses.replace(parsed, link=link)
        return Response(
            response_for(message),
            200,
            media_type=XML_TYPE,
            background=BackgroundTask(_process, sinks, message),
        )

    router.add_route("/mm7/{link}", mm7_inbound, methods=["POST"], include_in_schema=False)
    return router
