"""``alertcast worker``: a standalone dispatch worker process with graceful shutdown.

The process sends (the worker) and plans (the planning loop: accepted alerts without a plan,
plans left half-written). It starts sending at once; the planner first builds the subscriber
index, and the "worker ... started" line is logged once both run, so whoever waits for it
measures a warm planner.

SIGTERM/SIGINT stop claiming at once; batches in flight finish (or are released back to the
queue) within the lease, which stays well inside a Kubernetes pod's grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from sqlalchemy.engine import Engine

from alerts.db import make_engine
from alerts.dispatch.connectors.mm7 import mm7_client
from alerts.dispatch.links import link_config, make_worker
from alerts.dispatch.planloop import PlanLoop, listen_async, wake_from_thread
from alerts.migrate import schema_lag
from alerts.settings import Settings
from alerts.zones.cli import register_extras
from alerts.zones.targeting import Targeting
from geo.zones import ZoneRegistry

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
        if not await await_schema(engine, stop):
            return
        async with mm7_client(link_config(settings)) as client:
            worker = make_worker(engine, settings, client)
            planning = planloop(engine, settings, wake_from_thread(worker.wake))
            plan_wake = asyncio.Event()
            # NOTIFY (an alert stored, a plan's first rows committed) wakes the plan loop and
            # the worker at once instead of at their next poll.
            woken = [wake_from_thread(worker.wake), wake_from_thread(plan_wake)]
            tasks = [
                asyncio.create_task(worker.run(stop)),
                asyncio.create_task(planning.run(stop, plan_wake)),
                asyncio.create_task(listen_async(engine, woken, stop)),
            ]
            await asyncio.to_thread(planning.ready.wait)
            log.info("worker %s started on %s", worker.worker_id, link_config(settings).url)
            await asyncio.gather(*tasks)
            log.info("worker %s stopped", worker.worker_id)
    finally:
        engine.dispose()


async def await_schema(engine: Engine, stop: asyncio.Event, every_s: float = 5.0) -> bool:
    """Wait until the database schema is this version's (False: stopped first).

    A worker started before its release's ``alertcast db upgrade`` (a rolling deploy whose
    migration job is still running) would otherwise fail every query on a missing column.
    """
    while True:
        lag = await asyncio.to_thread(schema_lag, engine)
        if lag is None:
            return True
        log.error(
            "database schema is at revision %s, this version needs %s: waiting for "
            "`alertcast db upgrade`",
            lag[0],
            lag[1],
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if stop.is_set():
            return False


def planloop(engine: Engine, settings: Settings, on_planned: Callable[[], None]) -> PlanLoop:
    """The planning loop of a worker process, on the configured zone sets."""
    registry = ZoneRegistry.default(settings.data_dir)
    register_extras(registry, settings.var_dir)
    return PlanLoop(
        engine, Targeting(registry), settings.public_base_url.rstrip("/"), on_planned=on_planned
    )


def run_worker(settings: Settings) -> None:
    """Blocking entry point for the CLI."""
    asyncio.run(serve_worker(settings))
