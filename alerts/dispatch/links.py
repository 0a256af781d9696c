"""The MMSC link from settings and a worker bound to it (light: no rendering, no web app)."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from alerts.dispatch.breaker import Breaker
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector
from alerts.dispatch.mm7_api import InboundLink
from alerts.dispatch.ratelimit import make_bucket
from alerts.dispatch.worker import Worker, WorkerConfig
from alerts.settings import Settings

LINK = "default"
SIM_PREFIX = "/mmsc-sim"


def link_config(settings: Settings) -> Mm7Config:
    """The MM7 link from settings (the embedded simulator when no MMSC URL is set)."""
    extra: dict[str, object] = {}
    if settings.mmsc_namespace and settings.mmsc_version:
        extra.update(namespace=settings.mmsc_namespace, mm7_version=settings.mmsc_version)
    url = settings.mmsc_url or f"{settings.public_base_url.rstrip('/')}{SIM_PREFIX}/mm7"
    return Mm7Config(
        name=LINK,
        url=url,
        username=settings.mmsc_user,
        password=settings.mmsc_password,
        max_recipients=settings.mmsc_max_recipients,
        vaspid=settings.mmsc_vaspid,
        vasid=settings.mmsc_vasid,
        sender_address=settings.mmsc_sender,
        service_code=settings.mmsc_service_code,
        **extra,
    )


def inbound_links(settings: Settings) -> dict[str, InboundLink]:
    """Credentials our ``/mm7/{link}`` endpoint expects from the MMSC."""
    return {
        LINK: InboundLink(
            username=settings.mm7_inbound_user, password=settings.mm7_inbound_password
        )
    }


def make_worker(engine: Engine, settings: Settings, client: httpx.AsyncClient) -> Worker:
    """A worker on the configured link with the global rate limit."""
    connector = Mm7Connector(link_config(settings), client)
    bucket = make_bucket(engine, LINK, settings.mmsc_rate_limit)
    config = WorkerConfig(concurrency=settings.worker_concurrency, lease_s=settings.worker_lease_s)
    return Worker(engine, connector, bucket, config, Breaker())
