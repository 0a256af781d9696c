"""Wiring dispatch together: the MMSC link, workers, delivery-report writer, planner hook.

Used by the app lifespan (embedded default: one in-process worker) and by ``alertcast worker``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from alerts.dispatch import service as dispatch_service
from alerts.dispatch.connectors.mm7 import mm7_client
from alerts.dispatch.connectors.mm7_inbound import DeliveredMessage, DeliveryReport
from alerts.dispatch.links import LINK, inbound_links, link_config, make_worker
from alerts.dispatch.mm7_api import Mm7Inbound, Mm7Sinks, create_mm7_router
from alerts.dispatch.planloop import PlanLoop, notify, replaced_by, wake_from_thread, warm_up
from alerts.dispatch.planner import Planner
from alerts.dispatch.tracking import DeliveryReportWriter, SubscriberReplies
from alerts.dispatch.worker import Worker
from alerts.intake.feeds import IngestHooks, run_poller
from alerts.intake.service import IngestOutcome
from alerts.mmsc.config import ReportPlan, SimulatorConfig
from alerts.settings import Settings
from alerts.zones.targeting import Targeting

log = logging.getLogger(__name__)


@dataclass
class DispatchRuntime:
    """The background parts of one process: DR writer, planner hook and (optionally) a worker.

    With ``in_process_worker`` (embedded default) this process also plans: right after ingest
    (the hook) and through the planning loop (anything left unplanned, e.g. after a restart).
    Without it the API never plans: worker processes pick accepted alerts up.
    """

    engine: Engine
    settings: Settings
    targeting: Targeting
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    worker: Worker | None = None
    reports: DeliveryReportWriter | None = None
    planloop: PlanLoop | None = None
    _planning: set[asyncio.Task[None]] = field(default_factory=set)
    _notifying: set[asyncio.Task[None]] = field(default_factory=set)

    def planner(self) -> Planner:
        """A planner on this runtime's engine and targeting."""
        return Planner(self.engine, self.targeting, self.settings.public_base_url.rstrip("/"))

    async def on_alert_stored(self, outcome: IngestOutcome) -> None:
        """Stop what an Update/Cancel replaces (before answering), then plan in the background."""
        if not outcome.created or outcome.alert.state != "active" or outcome.alert.id is None:
            return
        alert_id = outcome.alert.id
        if outcome.alert.msg_type in ("Update", "Cancel"):
            await self.stop_replaced(alert_id)
        if self.planloop is None:  # a worker process plans it: wake them now
            task = asyncio.create_task(asyncio.to_thread(notify, self.engine))
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)
            return
        task = asyncio.create_task(
            self.plan(alert_id, expected_max=outcome.expected_recipients, replaces=False)
        )
        self._planning.add(task)
        task.add_done_callback(self._planning.discard)

    async def stop_replaced(self, alert_id: int) -> None:
        """Cancel the dispatch of the alerts ``alert_id`` updates or cancels; returns when none is in flight."""
        for previous in await asyncio.to_thread(replaced_by, self.engine, alert_id):
            await dispatch_service.cancel_async(
                self.engine, previous, reason=f"replaced by alert {alert_id}"
            )

    async def plan(
        self, alert_id: int, expected_max: int | None = None, *, replaces: bool = True
    ) -> None:
        """Plan one alert now in this process and wake the in-process worker.

        An Update or Cancel first stops the alerts it replaces and waits until none of their
        submits is in flight, so "who already received it" is final when the notices are planned.
        """
        if replaces:
            await self.stop_replaced(alert_id)
        loop = self.planloop or PlanLoop(
            self.engine, self.targeting, self.settings.public_base_url.rstrip("/")
        )
        try:
            await asyncio.to_thread(loop.plan_one, alert_id, expected_max)
        except Exception:
            log.exception("planning alert %s failed", alert_id)
            raise
        if self.worker is not None:
            self.worker.wake.set()

    def start(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        """Start the DR writer and, on the embedded default, an in-process worker and planner."""
        self.reports = DeliveryReportWriter(self.engine)
        self.tasks.append(asyncio.create_task(self.reports.run(self.stop)))
        self.tasks.append(
            asyncio.create_task(
                run_poller(
                    engine=self.engine,
                    client=client,
                    settings=self.settings,
                    stop=self.stop,
                    # Feed alerts are resolved and planned like posted ones.
                    hooks=IngestHooks(
                        getattr(app.state, "area_resolver", None),
                        getattr(app.state, "on_alert_stored", ()),
                    ),
                )
            )
        )
        if not self.settings.in_process_worker:  # previews still use the zone sets
            self.tasks.append(asyncio.create_task(asyncio.to_thread(warm_up, self.targeting)))
            return
        worker_client = mm7_client(link_config(self.settings))
        self.worker = make_worker(self.engine, self.settings, worker_client)
        self.tasks.append(asyncio.create_task(self._run_worker(worker_client)))
        self.planloop = PlanLoop(
            self.engine,
            self.targeting,
            self.settings.public_base_url.rstrip("/"),
            on_planned=wake_from_thread(self.worker.wake),
        )
        self.tasks.append(asyncio.create_task(self.planloop.run(self.stop)))

    async def _run_worker(self, client: httpx.AsyncClient) -> None:
        assert self.worker is not None
        async with client:
            await self.worker.run(self.stop)

    async def close(self) -> None:
        """Stop background work and wait for it."""
        self.stop.set()
        pending = [*self.tasks, *self._planning]
        if pending:
            await asyncio.wait(pending, timeout=35)


class _AppSink:
    """Delivery reports to the runtime of the app, looked up when they arrive."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def handle(self, report: DeliveryReport) -> None:
        """Queue one report for the batch writer."""
        runtime: DispatchRuntime = self.app.state.runtime
        assert runtime.reports is not None
        await runtime.reports.handle(report)


class _AppReplies:
    """Subscriber messages to the app's database."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def handle(self, message: DeliveredMessage) -> None:
        """Store one subscriber message."""
        await SubscriberReplies(self.app.state.engine).handle(message)


def mm7_sinks(app: FastAPI) -> Mm7Sinks:
    """Where inbound MM7 messages of the app go: its DR writer and its database."""
    return Mm7Sinks(delivery_reports=_AppSink(app), deliver=_AppReplies(app))


def mm7_router(app: FastAPI, settings: Settings) -> APIRouter:
    """The inbound MM7 router (``POST /mm7/{link}``) feeding the app's runtime."""
    return create_mm7_router(inbound_links(settings), mm7_sinks(app))


def install_mm7_inbound(app: FastAPI, settings: Settings) -> None:
    """Serve ``POST /mm7/{link}`` from `Mm7Inbound`, the outermost middleware added so far.

    Call it after any other ``add_middleware``. The router (`mm7_router`) stays in the app for
    what the middleware passes on (other methods get 405 as from any route).
    """
    app.add_middleware(Mm7Inbound, links=inbound_links(settings), sinks=mm7_sinks(app))


def simulator_config(settings: Settings) -> SimulatorConfig:
    """Config of the embedded MMSC simulator: reports go back to our own inbound endpoint."""
    return SimulatorConfig(
        vasp_url=f"{settings.public_base_url.rstrip('/')}/mm7/{LINK}",
        vasp_username=settings.mm7_inbound_user,
        vasp_password=SecretStr(settings.mm7_inbound_password.get_secret_value()),
        reports=ReportPlan(
            delay_s=settings.sim_report_delay_s, jitter_s=min(0.2, settings.sim_report_delay_s)
        ),
    )
