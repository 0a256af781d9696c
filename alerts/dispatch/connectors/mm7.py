"""3GPP TS 23.140 MM7 connector: SubmitReq / CancelReq / ReplaceReq as SOAP 1.1 over HTTP POST.

One `Mm7Connector` per MMSC link. It builds strictly valid requests (`mm7_xml`, `mm7_mime`),
posts them through a shared `httpx.AsyncClient`, reads whatever comes back leniently (SOAP
faults with HTTP 200, 4xx or 500 alike) and classifies the status for dispatch. A 3003
("multiple addresses not supported") makes the connector split the submit into
single-recipient submits and remember that this link wants one recipient per request.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
import weakref
from pathlib import Path

import httpx
from pydantic import SecretStr, model_validator

from alerts.dispatch.connectors.base import (
    Address,
    AddressKind,
    Classification,
    Connector,
    ConnectorConfig,
    OperationResult,
    SubmitRequest,
    SubmitResult,
)
from alerts.dispatch.connectors.http11 import Http11Transport
from alerts.dispatch.connectors.mm7_mime import (
    CONTENT_CID,
    HttpBody,
    TransferEncoding,
    build_content_part,
    build_related,
    split_mm7_http,
)
from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
    Mm7Status,
    parse_soap,
    parse_status,
)
from alerts.dispatch.connectors.mm7_status import classify_http, classify_status
from alerts.dispatch.connectors.mm7_xml import (
    REL6_NS,
    REL6_VERSION,
    Mm7Identity,
    cancel_req_xml,
    replace_req_xml,
    submit_req_xml,
)
from renderers.mms import MmsContent

_RELEASE = re.compile(r"REL-(\d+)-MM7", re.IGNORECASE)
CONTENT_CACHE = 64  # MMS parts kept per connector (one per content: alert x language)


class Mm7Config(ConnectorConfig):
    """One MMSC link's MM7 settings (URL, credentials, dialect, identity, limits, TLS)."""

    namespace: str = REL6_NS
    mm7_version: str = REL6_VERSION
    vaspid: str | None = None
    vasid: str | None = None
    sender_address: str | None = None
    sender_kind: AddressKind = AddressKind.SHORT_CODE
    service_code: str | None = None
    soap_action: str = ""
    tls_verify: bool = True
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    transfer_encoding: TransferEncoding = "binary"
    allow_adaptations: bool = True
    split_on_3003: bool = True

    @model_validator(mode="after")
    def _version_matches_namespace(self) -> Mm7Config:
        """Refuse the most common MM7 misconfiguration: REL-6 namespace with a 5.x version."""
        match = _RELEASE.search(self.namespace)
        if match and self.mm7_version.split(".", 1)[0] != match.group(1):
            raise ValueError(
                f"MM7Version {self.mm7_version} does not match namespace release "
                f"REL-{match.group(1)}"
            )
        return self

    def identity(self) -> Mm7Identity:
        """The MM7 identity this link sends with."""
        sender = Address(self.sender_address, self.sender_kind) if self.sender_address else None
        return Mm7Identity(
            namespace=self.namespace,
            version=self.mm7_version,
            vaspid=self.vaspid,
            vasid=self.vasid,
            sender=sender,
            service_code=self.service_code,
        )

    def timeout(self) -> httpx.Timeout:
        """Explicit HTTP timeouts for this link."""
        return httpx.Timeout(
            self.read_timeout_s, connect=self.connect_timeout_s, pool=self.connect_timeout_s
        )


FAST_TRANSPORTS: weakref.WeakKeyDictionary[httpx.AsyncClient, Http11Transport] = (
    weakref.WeakKeyDictionary()
)


def mm7_client(config: Mm7Config, *, max_connections: int = 100) -> httpx.AsyncClient:
    """An httpx client for this link: its TLS settings on the lean keep-alive transport."""
    context = ssl.create_default_context(cafile=str(config.ca_bundle) if config.ca_bundle else None)
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert:
        key = str(config.client_key) if config.client_key else None
        context.load_cert_chain(str(config.client_cert), key)
    transport = Http11Transport(context, max_connections=max_connections)
    client = httpx.AsyncClient(transport=transport, timeout=config.timeout())
    FAST_TRANSPORTS[client] = transport
    return client


def basic_authorization(username: str | None, password: SecretStr | None) -> str | None:
    """The HTTP basic Authorization header value, or None without credentials."""
    if username is None or password is None:
        return None
    token = f"{username}:{password.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


class RateLimiter:
    """Spaces calls at least 1/rate seconds apart (per link, in one event loop)."""

    def __init__(self, rate_per_s: float | None) -> None:
        self._interval = 1.0 / rate_per_s if rate_per_s else 0.0
        self._next = 0.0

    async def acquire(self) -> None:
        """Wait for the next free slot."""
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class Mm7Connector(Connector):
    """An MM7 link to one MMSC."""

    def __init__(self, config: Mm7Config, client: httpx.AsyncClient) -> None:
        self.config: Mm7Config = config
        self._client = client
        self._identity = config.identity()
        self._limiter = RateLimiter(config.rate_limit_per_s)
        self.max_recipients = max(1, config.max_recipients)
        self._authorization = basic_authorization(config.username, config.password)
        self._url = httpx.URL(config.url)
        self._timeout = config.timeout()
        self._parts: dict[int, tuple[MmsContent, bytes]] = {}

    def build_submit(self, request: SubmitRequest, boundary: str | None = None) -> HttpBody:
        """The exact HTTP body of this request's SubmitReq (what `submit` posts)."""
        soap = submit_req_xml(
            self._identity, request, f"cid:{CONTENT_CID}", self.config.allow_adaptations
        )
        return build_related(soap, self._content_part(request.content), boundary)

    def _content_part(self, content: MmsContent) -> bytes:
        """The MMS part of a SubmitReq, built once per content: every batch of an alert sends
        the same map and text, and re-encoding them was most of the cost of a SubmitReq."""
        cached = self._parts.get(id(content))
        if cached is not None and cached[0] is content:  # the reference held keeps ids unique
            return cached[1]
        part = build_content_part(content, self.config.transfer_encoding)
        if len(self._parts) >= CONTENT_CACHE:
            self._parts.clear()
        self._parts[id(content)] = (content, part)
        return part

    async def submit(self, request: SubmitRequest) -> SubmitResult:
        """Submit one MMS; splits on 3003 or when the request exceeds max recipients."""
        if len(request.recipients) > self.max_recipients:
            return await self._split(request, self.max_recipients)
        result = await self._submit_once(request)
        splittable = self.config.split_on_3003 and len(request.recipients) > 1
        if result.classification is Classification.SPLIT and splittable:
            self.max_recipients = 1
            return await self._split(request, 1)
        return result

    async def _submit_once(self, request: SubmitRequest) -> SubmitResult:
        http_status, status, classification = await self.post(self.build_submit(request))
        return SubmitResult(
            classification=classification,
            status_code=status.code,
            status_text=status.text,
            message_id=status.message_id if classification is Classification.SUCCESS else None,
            http_status=http_status,
            recipients=request.recipients,
        )

    async def _split(self, request: SubmitRequest, size: int) -> SubmitResult:
        chunks = [request.recipients[i : i + size] for i in range(len(request.recipients))[::size]]
        parts = await asyncio.gather(
            *(
                self._submit_once(_with(request, f"{request.transaction_id}.{n}", chunk))
                for n, chunk in enumerate(chunks, start=1)
            )
        )
        return SubmitResult(
            classification=Classification.SPLIT,
            status_code=3003,
            status_text="Split into smaller submits",
            recipients=request.recipients,
            parts=tuple(parts),
        )

    async def cancel(self, message_id: str, transaction_id: str) -> OperationResult:
        """Send a CancelReq for a previously submitted message."""
        soap = cancel_req_xml(self._identity, transaction_id, message_id)
        return _operation(await self.post(HttpBody('text/xml; charset="utf-8"', soap)))

    async def replace(
        self, message_id: str, transaction_id: str, content: MmsContent
    ) -> OperationResult:
        """Send a ReplaceReq with new content for a previously submitted message."""
        soap = replace_req_xml(self._identity, transaction_id, message_id, f"cid:{CONTENT_CID}")
        part = build_content_part(content, self.config.transfer_encoding)
        return _operation(await self.post(build_related(soap, part)))

    async def post(self, body: HttpBody) -> tuple[int | None, Mm7Status, Classification]:
        """POST one MM7 body and classify the answer (HTTP status, MM7 status, class)."""
        await self._limiter.acquire()
        headers = {
            "Content-Type": body.content_type,
            "SOAPAction": f'"{self.config.soap_action}"',
            "Accept-Encoding": "identity",
        }
        if self._authorization:
            headers["Authorization"] = self._authorization
        try:
            response = await self._exchange(body.body, headers)
        except httpx.TimeoutException:
            return None, Mm7Status(0, "timeout"), Classification.RETRYABLE
        except httpx.TransportError as exc:
            return (
                None,
                Mm7Status(0, f"transport error: {type(exc).__name__}"),
                Classification.RETRYABLE,
            )
        return read_response(
            response.status_code, response.headers.get("content-type"), response.content
        )

    async def _exchange(self, content: bytes, headers: dict[str, str]) -> httpx.Response:
        transport = FAST_TRANSPORTS.get(self._client)
        if transport is None:
            return await self._client.post(
                self._url, content=content, headers=headers, timeout=self._timeout
            )
        # Our own transport: skip the client's redirect/cookie/auth machinery MM7 never needs.
        request = httpx.Request("POST", self._url, headers=headers, content=content)
        request.extensions["timeout"] = self._timeout.as_dict()
        return await transport.handle_async_request(request)


def read_response(
    http_status: int, content_type: str | None, body: bytes
) -> tuple[int, Mm7Status, Classification]:
    """Classify an MMSC answer: MM7 status wherever it is, else the HTTP status."""
    status: Mm7Status | None = None
    try:
        status = parse_status(parse_soap(split_mm7_http(body, content_type).soap))
    except Mm7ParseError:
        status = None
    if status is None:
        return http_status, Mm7Status(0, f"HTTP {http_status}"), classify_http(http_status)
    return http_status, status, classify_status(status.code)


def _with(
    request: SubmitRequest, transaction_id: str, recipients: tuple[Address, ...]
) -> SubmitRequest:
    return SubmitRequest(
        transaction_id=transaction_id,
        recipients=recipients,
        content=request.content,
        subject=request.subject,
        priority=request.priority,
        expiry=request.expiry,
        timestamp=request.timestamp,
    )


def _operation(answer: tuple[int | None, Mm7Status, Classification]) -> OperationResult:
    http_status, status, classification = answer
    return OperationResult(
        classification=classification,
        status_code=status.code,
        status_text=status.text,
        http_status=http_status,
    )
