"""The lean HTTP/1.1 transport against a raw asyncio server with scripted answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from alerts.dispatch.connectors.http11 import Http11Transport

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n"
)
CLOSE = b"HTTP/1.0 500 Oops\r\nContent-Type: text/plain\r\n\r\nbroken"


class Scripted:
    """A raw HTTP server answering each request with the next scripted answer."""

    def __init__(self, answers: list[bytes], close_after: int = 0) -> None:
        self.answers = answers
        self.close_after = close_after
        self.seen: list[bytes] = []
        self.handlers: list[asyncio.Task] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handlers.append(asyncio.current_task())
        served = 0
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            self.seen.append(head + await reader.readexactly(length))
            answer = self.answers.pop(0)
            writer.write(answer)
            await writer.drain()
            served += 1
            if answer.startswith(b"HTTP/1.0") or served == self.close_after:
                break
        writer.close()
        await writer.wait_closed()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.wait_for(asyncio.gather(*self.handlers), 5)
        self.server.close()
        await self.server.wait_closed()


async def _post(client: httpx.AsyncClient, port: int, body: bytes = b"<x/>") -> httpx.Response:
    return await client.post(f"http://127.0.0.1:{port}/mm7?a=1", content=body)


def test_content_length_chunked_and_close():
    async def go():
        scripted = Scripted([OK, CHUNKED, CLOSE])
        async with scripted as port, httpx.AsyncClient(transport=Http11Transport()) as client:
            responses = [await _post(client, port) for _ in range(3)]
        return responses, scripted.seen

    (ok, chunked, closed), seen = asyncio.run(go())
    assert (ok.status_code, ok.content) == (200, b"hello")
    assert (chunked.status_code, chunked.content) == (200, b"hello")
    assert (closed.status_code, closed.content) == (500, b"broken")
    assert seen[0].startswith(b"POST /mm7?a=1 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 4\r\n\r\n<x/>" in seen[0]
    assert b"transfer-encoding" not in seen[0].lower()


def test_stale_keep_alive_connection_is_retried_once():
    async def go():
        scripted = Scripted([OK, OK], close_after=1)
        async with scripted as port, httpx.AsyncClient(transport=Http11Transport()) as client:
            first = await _post(client, port)
            await asyncio.sleep(0.05)  # the server has closed the kept-alive connection
            second = await _post(client, port)
        return first, second, scripted.seen

    first, second, seen = asyncio.run(go())
    assert first.content == second.content == b"hello"
    assert len(seen) == 2


def test_read_timeout_and_refused_connection():
    async def go():
        async def silent(reader, writer):
            await reader.read()  # until the client gives up and closes
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        timeout = httpx.Timeout(0.1)
        async with server, httpx.AsyncClient(transport=Http11Transport(), timeout=timeout) as c:
            with pytest.raises(httpx.ReadTimeout):
                await _post(c, port)
            with pytest.raises(httpx.ConnectError):
                await c.post("http://127.0.0.1:9/", content=b"x")

    asyncio.run(go())


def test_connections_are_bounded():
    async def go():
        transport = Http11Transport(max_connections=2)
        async with Scripted([OK] * 6) as port, httpx.AsyncClient(transport=transport) as client:
            results = await asyncio.gather(*(_post(client, port) for _ in range(6)))
            idle = sum(len(v) for v in transport._idle.values())
        return results, idle

    results, idle = asyncio.run(go())
    assert all(r.content == b"hello" for r in results)
    assert idle <= 2
