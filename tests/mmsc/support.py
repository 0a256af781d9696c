"""Test support: real uvicorn servers on loopback and small real MMS contents."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from PIL import Image

from alerts.dispatch.connectors.base import Address, Priority, SubmitRequest
from renderers.mms import MmsContent, MmsPart

SMIL = (
    '<smil><head><layout><root-layout width="320" height="480"/>'
    '<region id="Image" top="0" left="0" width="320" height="320"/>'
    '<region id="Text" top="320" left="0" width="320" height="160"/></layout></head>'
    '<body><par dur="10s"><img src="cid:map" region="Image"/>'
    '<text src="cid:text" region="Text"/></par></body></smil>'
)


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real PNG made with Pillow (a red zone on grey)."""
    image = Image.new("RGB", size, (200, 200, 200))
    for x in range(size[0] // 4, size[0] // 2):
        for y in range(size[1] // 4, size[1] // 2):
            image.putpixel((x, y), (220, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_content(
    text: str = "Evacuate zone A now. Ευακουάτε.", image: bytes | None = None
) -> MmsContent:
    """SMIL + PNG + text, as renderers.mms would hand it to the connector."""
    return MmsContent(
        (
            MmsPart('application/smil; charset="utf-8"', "smil", SMIL.encode()),
            MmsPart("image/png", "map", image if image is not None else png_bytes(), "map.png"),
            MmsPart('text/plain; charset="utf-8"', "text", text.encode(), "text.txt"),
        )
    )


def make_request(numbers: list[str], tid: str = "batch-1", **kw: Any) -> SubmitRequest:
    """A SubmitRequest to these numbers with the standard test content."""
    return SubmitRequest(
        transaction_id=tid,
        recipients=tuple(Address(n) for n in numbers),
        content=kw.pop("content", None) or make_content(),
        subject=kw.pop("subject", "Flood warning"),
        priority=kw.pop("priority", Priority.HIGH),
        **kw,
    )


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on an ephemeral loopback port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        time.sleep(0.01)
    else:
        server.should_exit = True
        raise RuntimeError("uvicorn did not start within 10 s")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    """Poll `predicate` every 20 ms until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
