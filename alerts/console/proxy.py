"""The console as a client of the service's own API, in process, acting as the user's agency.

Each agency gets one console API key derived from the secret key (HMAC), so every process
derives the same key and no key is ever stored in plain text; it is registered on first use.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request
from sqlmodel import Session, select

from alerts.access.models import Agency, ApiKey
from alerts.access.service import KEY_PREFIX_LEN
from alerts.deps import get_app_settings


@dataclass(slots=True)
class Upstream:
    """One answer from the API: status, media type, body."""

    status: int
    media_type: str
    body: bytes

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON (callers check ``ok`` and the media type first)."""
        return httpx.Response(self.status, content=self.body).json()


def console_key(secret: str, agency_id: int) -> str:
    """The deterministic console API key of an agency."""
    mac = hmac.new(secret.encode(), f"console-proxy:{agency_id}".encode(), hashlib.sha256)
    return "ak_c" + mac.hexdigest()


def ensure_console_key(*, session: Session, secret: str, agency: Agency) -> str:
    """Register the agency's console key if it is not yet known; return the plain key."""
    assert agency.id is not None
    key = console_key(secret, agency.id)
    prefix = key[:KEY_PREFIX_LEN]
    if session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first() is None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        session.add(ApiKey(agency_id=agency.id, prefix=prefix, key_hash=digest, label="console"))
        session.commit()
    return key


async def call(
    request: Request, session: Session, agency: Agency, method: str, path: str, **kw: Any
) -> Upstream:
    """Call ``path`` on this same app as ``agency``; a missing endpoint reads as 404."""
    secret = get_app_settings(request).secret_key.get_secret_value()
    key = ensure_console_key(session=session, secret=secret, agency=agency)
    transport = httpx.ASGITransport(app=request.app)
    headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console.internal", timeout=30.0
    ) as client:
        resp = await client.request(method, path, headers=headers, **kw)
    media = resp.headers.get("content-type", "application/octet-stream")
    return Upstream(status=resp.status_code, media_type=media, body=resp.content)


def _api_paths(request: Request) -> list[list[str]]:
    """Path templates of the app's API, split on '/' (from the OpenAPI document, cached)."""
    cached: list[list[str]] | None = getattr(request.app.state, "console_api_paths", None)
    if cached is None:
        paths = request.app.openapi().get("paths", {})
        cached = [p.rstrip("/").split("/") for p in paths]
        request.app.state.console_api_paths = cached
    return cached


def has_route(request: Request, path: str) -> bool:
    """True when the app serves ``path`` (e.g. ``/api/v1/zones``); ``{params}`` match anything."""
    want = path.rstrip("/").split("/")
    return any(
        len(have) == len(want)
        and all(h == w or h.startswith("{") for h, w in zip(have, want, strict=True))
        for have in _api_paths(request)
    )
