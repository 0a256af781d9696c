"""The ``alertcast`` command line: serve, worker, demo, ingest, validate, admin and tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alerts.settings import get_settings

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


def _engine():  # type: ignore[no-untyped-def]
    from alerts.db import make_engine

    return make_engine(get_settings())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the API (and console) with uvicorn."""
    import uvicorn

    from alerts.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


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
    from alerts.cap.cli import validate

    app.command(name="validate")(validate)


_register_extras()


def main() -> None:
    """Entry point for ``python -m alerts.cli``."""
    app()


if __name__ == "__main__":
    main()

__all__ = ["app", "json", "Path"]
