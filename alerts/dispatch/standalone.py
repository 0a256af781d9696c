"""``alertcast worker``: a standalone dispatch worker process with graceful shutdown.

SIGTERM/SIGINT stop claiming at once; batches in flight finish (or are released back to the
queue) within the lease, which stays well inside a Kubernetes pod's grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from alerts.db import make_engine
from alerts.dispatch.connectors.mm7 import mm7_client
from alerts.dispatch.links import link_config, make_worker
from alerts.settings import Settings

log = logging.getLogger(__name__)


async def serve_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run one worker until ``stop`` is set or the process is asked to terminate."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
            loop.add_signal_handler(sig, stop.set)
    engine = make_engine(settings)
    try:
        async with mm7_client(link_config(settings)) as client:
            worker = make_worker(engine, settings, client)
            log.info("worker %s started on %s", worker.worker_id, link_config(settings).url)
            await worker.run(stop)
            log.info("worker %s stopped", worker.worker_id)
    finally:
        engine.dispose()


def run_worker(settings: Settings) -> None:
    """Blocking entry point for the CLI."""
    asyncio.run(serve_worker(settings))
