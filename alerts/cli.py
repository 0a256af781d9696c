"""The ``alertcast`` command line: serve, worker, demo, ingest, validate, admin and tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from alerts.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    name="alertcast",
    help="Emergency alert broadcast service: CAP in, geofenced MMS maps out over MM7.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
agency_app = typer.Typer(help="Alerting agencies.", no_args_is_help=True)
apikey_app = typer.Typer(help="Agency API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(agency_app, name="agency")
app.add_typer(apikey_app, name="apikey")

out = Console()
err = Console(stderr=True)


def _engine() -> Engine:
    from alerts.db import make_engine

    return make_engine(get_settings())


def _served_settings(host: str, port: int) -> Settings:
    """Settings for a server on host:port (its public URL follows the port unless set)."""
    import os

    settings = get_settings()
    if "ALERTCAST_PUBLIC_BASE_URL" not in os.environ:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        settings = settings.model_copy(update={"public_base_url": f"http://{shown}:{port}"})
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="uvicorn worker processes (production: one per core)")
    ] = 1,
) -> None:
    """Serve the API, console, inbound MM7 endpoint and (embedded default) a worker and MMSC simulator."""
    import os

    import uvicorn

    from alerts.app import create_app
    from alerts.logs import configure_logging

    settings = _served_settings(host, port)
    if workers > 1 and settings.is_sqlite and settings.in_process_worker:
        err.print("[red]--workers > 1 on SQLite needs ALERTCAST_IN_PROCESS_WORKER=false[/red]")
        raise typer.Exit(2)
    configure_logging(settings.log_level)
    out.print(f"alertcast on [bold]http://{host}:{port}[/bold]  console: /console  API docs: /docs")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    # Worker processes build their own app (and engine) from the environment.
    os.environ["ALERTCAST_PUBLIC_BASE_URL"] = settings.public_base_url
    # A spawned worker imports the whole app before it can answer the supervisor's health ping.
    uvicorn.run(
        "alerts.cli:served_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=60,
        **common,
    )


def served_app() -> FastAPI:
    """The app of one ``serve --workers N`` process, configured from the environment."""
    from alerts.app import create_app
    from alerts.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Batches in flight at once")] = None,
) -> None:
    """Run a standalone dispatch worker (several per host and several hosts may run)."""
    from alerts.dispatch.standalone import run_worker
    from alerts.logs import configure_logging

    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    configure_logging(settings.log_level)
    run_worker(settings)


@app.command()
def seed(
    subscribers: Annotated[
        int, typer.Option(help="Synthetic subscribers to create if there are none")
    ] = 10_000,
) -> None:
    """Load the demo agency, operators and synthetic subscribers (idempotent)."""
    from alerts.demo import seed_demo

    info = seed_demo(get_settings(), subscribers=subscribers, say=err.print)
    out.print(f"demo agency [bold]{info['agency']}[/bold]; API key in {info['key_file']}")


@app.command()
def demo(
    subscribers: Annotated[
        int, typer.Option(help="Synthetic subscribers placed by census population")
    ] = 100_000,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object")
    ] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the map and MMS preview go")] = Path(
        "demo-out"
    ),
) -> None:
    """Run the whole system once: NYC zones 1-2 hurricane evacuation to synthetic subscribers."""
    from alerts.demo import run_demo

    summary = run_demo(subscribers=subscribers, out_dir=out_dir, quiet=json_output)
    if json_output:
        typer.echo(json.dumps(summary))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply Alembic migrations up to REVISION (default: head)."""
    from alerts import migrate

    migrate.upgrade(_engine(), revision)
    out.print(f"[green]database at {revision}[/green]")


@agency_app.command("create")
def agency_create(
    name: Annotated[str, typer.Argument(help="Agency name (unique)")],
    sender: Annotated[list[str], typer.Option("--sender", help="CAP sender it may post as")],
    ipaws: Annotated[bool, typer.Option(help="Apply the CAP-IPAWS v1.0 profile rules")] = False,
    require_signature: Annotated[bool, typer.Option(help="Reject unsigned CAP")] = False,
) -> None:
    """Create an agency allowed to post as the given CAP senders."""
    from alerts.access import service
    from alerts.access.models import AgencyCreate
    from alerts.db import session_scope

    with session_scope(_engine()) as session:
        agency = service.create_agency(
            session=session,
            data=AgencyCreate(
                name=name, senders=sender, ipaws_profile=ipaws, require_signature=require_signature
            ),
        )
        out.print(
            f"agency [bold]{agency.name}[/bold] id={agency.id} senders={', '.join(agency.senders)}"
        )


@apikey_app.command("create")
def apikey_create(
    agency: Annotated[str, typer.Option(help="Agency id or name")],
    label: Annotated[str, typer.Option(help="What the key is for")] = "",
    admin: Annotated[bool, typer.Option(help="Admin key: sees full phone numbers")] = False,
) -> None:
    """Create an API key for an agency; the key is printed once and never again."""
    from alerts.access import service
    from alerts.db import session_scope

    with session_scope(_engine()) as session:
        found = service.find_agency(session=session, ref=agency)
        assert found.id is not None
        issued = service.issue_key(session=session, agency_id=found.id, label=label, admin=admin)
    err.print("[yellow]Store this key now: it is not shown again.[/yellow]")
    out.print(issued.key)


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="CAP file path or http(s) URL")],
    agency: Annotated[str, typer.Option(help="Agency id or name to ingest as")],
) -> None:
    """Ingest one CAP document through the same path as the API."""
    from alerts.flows import ingest_source

    try:
        outcome = ingest_source(source=source, agency_ref=agency, settings=get_settings())
    except Exception as exc:  # report the rule list, not a traceback
        from alerts.errors import AlertcastError

        if not isinstance(exc, AlertcastError):
            raise
        err.print(f"[red]rejected:[/red] {exc.detail}")
        for v in exc.violations:
            err.print(f"  {v.rule} line {v.line}: {v.message}")
        raise typer.Exit(1) from None
    word = "stored" if outcome.created else "already stored"
    out.print(f"{word}: alert id={outcome.alert.id} {outcome.alert.identifier}")


def _register_extras() -> None:
    from alerts.access.users import users_app
    from alerts.cap.cli import validate
    from alerts.dispatch.mm7_cli import mm7_app, mmsc_sim
    from alerts.subscribers.cli import subscribers_app
    from alerts.zones.cli import zones_app

    app.command(name="validate")(validate)
    app.command(name="mmsc-sim")(mmsc_sim)
    app.add_typer(mm7_app, name="mm7")
    app.add_typer(users_app, name="user")
    app.add_typer(subscribers_app, name="subscribers")
    app.add_typer(zones_app, name="zones")


_register_extras()


def _debug_signal() -> None:
    """SIGUSR1 dumps every thread's stack to stderr (diagnosing a stuck process in the field)."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


_debug_signal()


def main() -> None:
    """Entry point for ``python -m alerts.cli``."""
    app()


if __name__ == "__main__":
    main()
