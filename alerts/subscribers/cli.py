"""``alertcast subscribers ...``: CSV import with progress, synthetic populations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alerts.settings import get_settings

subscribers_app = typer.Typer(help="Subscribers: import and synthesise.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


@subscribers_app.command("import")
def import_csv(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a phone column")
    ],
    region: Annotated[str, typer.Option(help="Region for numbers without a country code")] = "US",
) -> None:
    """Import subscribers from CSV: every row valid or nothing is written."""
    from alerts.db import make_engine
    from alerts.subscribers import importer

    total = _count_lines(file)
    engine = make_engine(get_settings())
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("validating", total=total)
        report = importer.import_file(
            engine, file, region=region, progress=lambda n: progress.advance(task, n)
        )
    engine.dispose()
    if not report.ok:
        table = Table(
            "line", "column", "reason", title=f"{len(report.errors)} bad row(s): nothing imported"
        )
        for e in report.errors[:50]:
            table.add_row(str(e.line), e.column, e.reason)
        err.print(table)
        if len(report.errors) > 50:
            err.print(f"... and {len(report.errors) - 50} more")
        raise typer.Exit(1)
    out.print(
        f"imported {report.rows} rows: {report.subscribers} new subscribers, "
        f"{report.locations} locations ({report.existing_numbers} numbers already subscribed)"
    )


@subscribers_app.command("synth")
def synth(
    n: Annotated[int, typer.Option("--n", help="How many subscribers")],
    zones: Annotated[
        str, typer.Option("--zones", help="Zone set whose land they live on")
    ] = "nyc_evacuation_zones",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same people)")] = 1,
) -> None:
    """Create synthetic subscribers placed by census population with a language mix."""
    from alerts.app import zone_registry
    from alerts.db import make_engine
    from alerts.subscribers.synth import synth_into
    from geo.errors import GeoError

    settings = get_settings()
    engine = make_engine(settings)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("writing", total=n)
            report = synth_into(
                engine,
                zone_registry(settings.data_dir, settings.var_dir),
                n=n,
                zone_set=zones,
                seed=seed,
                progress=lambda k: progress.advance(task, k),
            )
    except (GeoError, KeyError, ValueError) as exc:
        err.print(f"[red]cannot synthesise:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.print(
        f"{report.subscribers} synthetic subscribers in {zones} "
        f"({report.existing_numbers} numbers already existed)"
    )
