"""The simulator's ASGI app: MM7 endpoint at /mm7, a phone-like page, JSON API and stats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from alerts.mmsc.config import SimulatorConfig
from alerts.mmsc.simulator import Simulator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def mask_number(value: str) -> str:
    """A phone number with its middle digits hidden, for display."""
    if len(value) <= 6:
        return "***"
    return f"{value[:4]}***{value[-3:]}"


def create_simulator_app(config: SimulatorConfig | None = None) -> FastAPI:
    """A standalone MMSC simulator; `app.state.simulator` is its `Simulator`."""
    simulator = Simulator(config or SimulatorConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(5.0, connect=2.0)
        async with httpx.AsyncClient(timeout=timeout) as client:
            simulator.reports.client = client
            simulator.reports.raw = True
            yield
            await simulator.reports.close()
            simulator.reports.client = None

    app = FastAPI(
        title="alertcast MMSC simulator", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.simulator = simulator
    _mm7_routes(app, simulator)
    _api_routes(app, simulator)
    _page_routes(app, simulator)
    return app


def _mm7_routes(app: FastAPI, sim: Simulator) -> None:
    @app.post("/mm7", include_in_schema=False)
    async def mm7(request: Request) -> Response:
        """The MM7 endpoint (VASP -> MMSC)."""
        body = await request.body()
        headers = request.headers
        framed = "content-length" in headers and "transfer-encoding" not in headers
        answer = await sim.handle(
            body,
            headers.get("content-type"),
            headers.get("authorization"),
            content_length=framed,
        )
        return Response(answer.body, answer.status, answer.headers, media_type=answer.content_type)


def _api_routes(app: FastAPI, sim: Simulator) -> None:
    @app.get("/api/messages")
    async def messages(limit: int = 50) -> dict[str, Any]:
        """The newest received messages, with counts."""
        latest = sim.store.latest(max(0, min(limit, 1000)))
        return {
            "count": sim.store.total,
            "stored": len(sim.store),
            "recipients": sim.stats.counters["recipients"],
            "messages": [m.summary() for m in latest],
        }

    @app.get("/api/messages/{message_id}")
    async def message(message_id: str) -> dict[str, Any]:
        """One received message."""
        stored = sim.store.get(message_id)
        if stored is None:
            raise HTTPException(404, "no such message")
        return stored.summary()

    @app.get("/api/messages/{message_id}/parts/{index}")
    async def part(message_id: str, index: int) -> Response:
        """One part of a received message, as it was sent."""
        stored = sim.store.get(message_id)
        if stored is None or not 0 <= index < len(stored.parts):
            raise HTTPException(404, "no such part")
        item = stored.parts[index]
        return Response(item.data, media_type=item.media_type)

    @app.get("/api/stats")
    async def stats() -> dict[str, Any]:
        """Request counters, per-second peak rate, delivery report counters."""
        return {**sim.stats.snapshot(), "dr_in_flight": sim.reports.in_flight}

    @app.post("/api/reset")
    async def reset() -> dict[str, str]:
        """Forget messages and statistics."""
        sim.reset()
        return {"status": "reset"}


def _page_routes(app: FastAPI, sim: Simulator) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> HTMLResponse:
        """Received messages shown as a phone would show them."""
        latest = sim.store.latest(50)
        context = {
            "messages": latest,
            "total": sim.store.total,
            "recipients": sim.stats.counters["recipients"],
            "mask": mask_number,
        }
        return TEMPLATES.TemplateResponse(request, "index.html", context)
