"""Inbound MM7 endpoint `POST /mm7/{link}`: delivery reports, read replies, subscriber messages.

Acknowledge first, process after: the request is parsed, answered with a 1000 response echoing
its TransactionID, and the parsed message is handed to an injected async sink once the response
is sent. Idempotency is the sink's job; `DeliveryReportDeduper` / `DedupingSink` give it an
in-memory helper.

Two front ends make the same decisions (`_Endpoint`): `Mm7Inbound`, a pure ASGI middleware that
answers `POST /mm7/{link}` ahead of the whole application (what the app serves: an MMSC posts
one delivery report per recipient), and `create_mm7_router`, a plain Starlette route (the
fallback for anything else on that path, e.g. 405 to a GET, and for apps without the middleware).
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
TEXT_TYPE = "text/plain; charset=utf-8"
PREFIX = "/mm7/"


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


@dataclass(frozen=True, slots=True)
class _Answer:
    """What the endpoint answers, and the message for the sinks once the answer is sent."""

    status: int
    body: bytes
    media_type: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    message: InboundMessage | None = None

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers in the order a Starlette ``Response`` sends them."""
        length = (b"content-length", str(len(self.body)).encode())
        return [*self.headers, length, (b"content-type", self.media_type.encode())]


_UNAUTHORISED = _Answer(
    401, b"unauthorised\n", TEXT_TYPE, ((b"www-authenticate", b'Basic realm="mm7"'),)
)
_TOO_LARGE = _Answer(413, b"too large\n", TEXT_TYPE)


def _fault(code: int, text: str, transaction_id: str | None = None) -> _Answer:
    return _Answer(500, vasp_error(transaction_id, code, text), XML_TYPE)


class _Endpoint:
    """The endpoint's decisions (auth, size, parse, acknowledgement), whatever serves it."""

    def __init__(
        self, links: Mapping[str, InboundLink], sinks: Mm7Sinks, max_body_bytes: int
    ) -> None:
        # The Authorization value each link must send, computed once rather than per request.
        self.expected = {
            name: (basic_authorization(link.username, link.password) or "").encode()
            for name, link in links.items()
        }
        self.sinks = sinks
        self.max_body_bytes = max_body_bytes

    def refusal(
        self, link: str, authorization: bytes | None, content_length: bytes | None
    ) -> _Answer | None:
        """401 or 413 from the headers alone, or None to go on and read the body."""
        expected = self.expected.get(link)
        if expected is None or authorization is None:
            return _UNAUTHORISED
        if not secrets.compare_digest(authorization, expected):
            return _UNAUTHORISED
        if int(content_length or 0) > self.max_body_bytes:
            return _TOO_LARGE
        return None

    def answer(self, link: str, body: bytes, content_type: str | None) -> _Answer:
        """The answer to a readable request: a 1000 acknowledgement or a SOAP fault."""
        if len(body) > self.max_body_bytes:
            return _TOO_LARGE
        try:
            parsed = parse_inbound(body, content_type)
        except UnsupportedOperationError as exc:
            return _fault(4003, "Unsupported operation", exc.message.transaction_id)
        except Mm7ParseError:
            return _fault(2007, "Message format corrupt")
        if not _has_sink(self.sinks, parsed):
            return _fault(4003, "Unsupported operation", parsed.transaction_id)
        message = dataclasses.replace(parsed, link=link)
        return _Answer(200, response_for(message), XML_TYPE, message=message)

    async def process(self, message: InboundMessage) -> None:
        """Hand an acknowledged message to its sink (failures are logged, never raised)."""
        await _process(self.sinks, message)


def _link_of(scope: Scope) -> str | None:
    """The link of a ``POST /mm7/{link}`` request (one non-empty path segment), else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):  # as Starlette's router strips a mount prefix
        path = path[len(root) :]
    if not path.startswith(PREFIX):
        return None
    link = path[len(PREFIX) :]
    return link if link and "/" not in link else None


def _headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The first Authorization, Content-Length and Content-Type values, as sent."""
    authorization = content_length = content_type = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = authorization or value
        elif name == b"content-length":
            content_length = content_length or value
        elif name == b"content-type":
            content_type = content_type or value
    return authorization, content_length, content_type


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body; None when the client went away. Stops reading past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


class Mm7Inbound:
    """Pure ASGI middleware answering `POST /mm7/{link}` before the application sees it.

    An MMSC posts one delivery report per recipient (hundreds of thousands per alert): the
    request skips routing, the exception middleware, ``Request`` and ``Response`` objects and
    the background-task machinery. Every other request goes on to the application unchanged.
    The sink is awaited after the response is sent, as the route's background task was.
    """

    def __init__(
        self,
        app: ASGIApp,
        links: Mapping[str, InboundLink],
        sinks: Mm7Sinks,
        *,
        max_body_bytes: int = 2_000_000,
    ) -> None:
        self.app = app
        self.endpoint = _Endpoint(links, sinks, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an inbound MM7 request, or pass anything else on."""
        link = _link_of(scope)
        if link is None:
            await self.app(scope, receive, send)
            return
        authorization, content_length, content_type = _headers(scope)
        answer = self.endpoint.refusal(link, authorization, content_length)
        if answer is None:
            body = await _read_body(receive, self.endpoint.max_body_bytes)
            if body is None:
                return
            kind = None if content_type is None else content_type.decode("latin-1")
            answer = self.endpoint.answer(link, body, kind)
        start = {"type": "http.response.start", "status": answer.status}
        await send({**start, "headers": answer.raw_headers()})
        await send({"type": "http.response.body", "body": answer.body})
        if answer.message is not None:
            await self.endpoint.process(answer.message)


def _latin1(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1")


def create_mm7_router(
    links: Mapping[str, InboundLink], sinks: Mm7Sinks, *, max_body_bytes: int = 2_000_000
) -> APIRouter:
    """An APIRouter serving `POST /mm7/{link}` for the given links and sinks.

    A plain Starlette route, not a FastAPI path operation; the app puts `Mm7Inbound` in front
    of it, so this route serves only what the middleware passes on. The sink runs as the
    response's background task, after the acknowledgement is sent.
    """
    router = APIRouter()
    endpoint = _Endpoint(links, sinks, max_body_bytes)

    async def mm7_inbound(request: Request) -> Response:
        """Acknowledge an MMSC request at once; process it after the response."""
        link = str(request.path_params["link"])
        headers = request.headers
        answer = endpoint.refusal(
            link, _latin1(headers.get("authorization")), _latin1(headers.get("content-length"))
        )
        if answer is None:
            answer = endpoint.answer(link, await request.body(), headers.get("content-type"))
        background = None
        if answer.message is not None:
            background = BackgroundTask(endpoint.process, answer.message)
        response = Response(answer.body, answer.status, background=background)
        response.raw_headers = answer.raw_headers()
        return response

    router.add_route("/mm7/{link}", mm7_inbound, methods=["POST"], include_in_schema=False)
    return router
