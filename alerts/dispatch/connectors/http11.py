"""A lean HTTP/1.1 keep-alive transport for httpx, used for MM7 links.

httpx's default transport (httpcore + anyio) cost 1.5-3 ms of CPU per SubmitReq on the 2-core
box, growing with concurrency (its pool rescans every queued request against every connection),
which capped a connector at ~150 submits/s against a simulator that takes ~1,100/s. This
transport writes each request in one send, reads Content-Length or chunked bodies, keeps
connections alive per origin and bounds them with a semaphore: ~0.5 ms per request. It sits
behind `httpx.AsyncClient(transport=...)`, so the connector still talks to an ordinary client.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict

import httpx

Origin = tuple[str, str, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def close(self) -> None:
        self.writer.close()


def _timeout(request: httpx.Request, kind: str) -> float | None:
    value = request.extensions.get("timeout", {}).get(kind)
    return float(value) if value is not None else None


def _head(request: httpx.Request, length: int) -> bytes:
    lines = [f"{request.method} {request.url.raw_path.decode('ascii')} HTTP/1.1"]
    for name, value in request.headers.raw:
        if name.lower() not in (b"content-length", b"transfer-encoding"):
            lines.append(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(raw: bytes) -> tuple[int, list[tuple[str, str]], bool]:
    lines = raw.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = [
        (n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:] if line)
    ]
    close = version == "HTTP/1.0" or any(
        n.lower() == "connection" and v.lower() == "close" for n, v in headers
    )
    return int(status), headers, close


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _read_body(
    reader: asyncio.StreamReader, headers: list[tuple[str, str]], method: str, status: int
) -> tuple[bytes, bool]:
    """The body and whether the connection must close after it."""
    fields = {n.lower(): v for n, v in headers}
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b"", False
    if fields.get("transfer-encoding", "").lower().endswith("chunked"):
        return await _read_chunked(reader), False
    if "content-length" in fields:
        return await reader.readexactly(int(fields["content-length"])), False
    return await reader.read(), True


class Http11Transport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 over asyncio streams; `max_connections` in flight at most."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_connections: int = 100):
        self._ssl = ssl_context
        self._max = max_connections
        self._slots: asyncio.Semaphore | None = None
        self._idle: defaultdict[Origin, list[_Connection]] = defaultdict(list)

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        context = (self._ssl or ssl.create_default_context()) if scheme == "https" else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, limit=1 << 20), timeout
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"connect to {host}:{port}: {exc.strerror}") from exc
        return _Connection(reader, writer)

    async def _checkout(self, origin: Origin, request: httpx.Request) -> _Connection:
        idle = self._idle[origin]
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                conn.reused = True
                return conn
            conn.close()
        return await self._connect(origin, _timeout(request, "connect"))

    async def _exchange(
        self, conn: _Connection, request: httpx.Request, data: bytes
    ) -> httpx.Response:
        conn.writer.write(_head(request, len(data)) + data)
        try:
            async with asyncio.timeout(_timeout(request, "write")):
                await conn.writer.drain()
            async with asyncio.timeout(_timeout(request, "read")):
                raw = await conn.reader.readuntil(b"\r\n\r\n")
                status, headers, close = _parse_head(raw[:-4])
                body, eof = await _read_body(conn.reader, headers, request.method, status)
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout("MMSC did not answer in time", request=request) from exc
        if close or eof:
            conn.close()
        headers = [(n, v) for n, v in headers if n.lower() != "transfer-encoding"]
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _send(self, origin: Origin, request: httpx.Request, data: bytes) -> httpx.Response:
        conn = await self._checkout(origin, request)
        try:
            response = await self._exchange(conn, request, data)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            conn.close()
            if conn.reused:  # the server dropped an idle keep-alive connection: one fresh try
                return await self._send_fresh(origin, request, data)
            raise httpx.RemoteProtocolError(f"connection lost: {type(exc).__name__}") from exc
        if not conn.writer.is_closing():
            self._idle[origin].append(conn)
        return response

    async def _send_fresh(
        self, origin: Origin, request: httpx.Request, data: bytes
    ) -> httpx.Response:
        conn = await self._connect(origin, _timeout(request, "connect"))
        try:
            response = await self._exchange(conn, request, data)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            conn.close()
            raise httpx.RemoteProtocolError(f"connection lost: {type(exc).__name__}") from exc
        if not conn.writer.is_closing():
            self._idle[origin].append(conn)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request on a pooled connection and read the whole response."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max)
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        data = await request.aread()
        try:
            await asyncio.wait_for(self._slots.acquire(), _timeout(request, "pool"))
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no free connection", request=request) from exc
        try:
            return await self._send(origin, request, data)
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        """Close every idle connection."""
        conns = [conn for pool in self._idle.values() for conn in pool]
        self._idle.clear()
        for conn in conns:
            conn.close()
        await asyncio.gather(*(c.writer.wait_closed() for c in conns), return_exceptions=True)
