"""The ``alertcast`` command line: serve, worker, demo, ingest, validate, admin and tools."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer import _click as click  # typer vendors click since 0.26; TyperGroup speaks its types
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.engine import Engine

    from alerts.settings import Settings

# Commands whose modules pull in the database, web or geometry stacks: imported only when run,
# so `alertcast --help` and `alertcast validate` start quickly. name: (module, attribute, help).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": (
        "alerts.cap.cli",
        "validate",
        "Validate CAP alert files: XML safety, OASIS XSD, CAP rules and XML signatures.",
    ),
    "mmsc-sim": (
        "alerts.dispatch.mm7_cli",
        "mmsc_sim",
        "Run the MMSC simulator (MM7 endpoint at /mm7, messages page at /).",
    ),
    "mm7": ("alerts.dispatch.mm7_cli", "mm7_app", "Test an MMSC link over MM7."),
    "user": ("alerts.access.users", "users_app", "Console users (operators)."),
    "subscribers": (
        "alerts.subscribers.cli",
        "subscribers_app",
        "Subscribers: import and synthesise.",
    ),
    "zones": ("alerts.zones.cli", "zones_app", "Zone sets: list and import."),
}


def load_command(name: str) -> click.Command:
    """Import a lazily registered command and build its click command."""
    module, attribute, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer()
        single.command(name=name)(target)
        target = single
    return typer.main.get_command(target)


class _Listed(TyperCommand):
    """A lazy command as `--help` lists it; running it goes through ``resolve_command``."""

    def invoke(self, ctx: click.Context) -> Any:
        """Never reached: the real command is loaded before it runs."""
        raise RuntimeError(f"command {self.name!r} was not loaded")


class LazyGroup(TyperGroup):
    """The top-level group: heavy sub-commands are imported only when they are run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, eager ones first, in the order they were declared."""
        eager = super().list_commands(ctx)
        return eager + [name for name in LAZY_COMMANDS if name not in eager]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A loaded command, or a lazy one's listing (name and help) without importing it."""
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            return _Listed(cmd_name, help=LAZY_COMMANDS[cmd_name][2])
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Load a lazy command the moment it is asked for, then resolve as usual."""
        if args and args[0] in LAZY_COMMANDS and args[0] not in self.commands:
            self.add_command(load_command(args[0]), args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="alertcast",
    help="Emergency alert broadcast service: CAP in, geofenced MMS maps out over MM7.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=LazyGroup,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
agency_app = typer.Typer(help="Alerting agencies.", no_args_is_help=True)
apikey_app = typer.Typer(help="Agency API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(agency_app, name="agency")
app.add_typer(apikey_app, name="apikey")

out = Console()
err = Console(stderr=True)


def get_settings() -> Settings:
    """The process settings (imported on first use: pydantic is not needed for `--help`)."""
    from alerts.settings import get_settings as settings_of

    return settings_of()


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
    jurisdiction: Annotated[
        Path | None,
        typer.Option(
            help="GeoJSON file (geometry, Feature or FeatureCollection) of the area it may alert; "
            "without one, any area is accepted",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Create an agency allowed to post as the given CAP senders."""
    from alerts.access import service
    from alerts.access.jurisdiction import read_boundary
    from alerts.access.models import AgencyCreate
    from alerts.db import session_scope

    home = None
    if jurisdiction is not None:
        try:
            home = read_boundary(jurisdiction)
        except ValueError as exc:
            err.print(f"[red]--jurisdiction {jurisdiction}: {exc}[/red]")
            raise typer.Exit(2) from None
    with session_scope(_engine()) as session:
        agency = service.create_agency(
            session=session,
            data=AgencyCreate(
                name=name, senders=sender, ipaws_profile=ipaws, require_signature=require_signature
            ),
        )
        agency.jurisdiction_geojson = home
        session.add(agency)
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
    """Ingest one CAP document through the same path as the API (a running service sends it)."""
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
    if outcome.created and outcome.alert.state == "active":
        err.print("a running alertcast service (serve or worker) now plans and sends it")


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
