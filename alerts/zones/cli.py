"""``alertcast zones ...``: list and import zone sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.settings import get_settings
from geo.errors import GeoError
from geo.zones import ZoneRegistry

zones_app = typer.Typer(help="Zone sets: list and import.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def extra_dir(var_dir: Path) -> Path:
    """Where imported zone sets live (beside the database, not in the shipped data)."""
    return var_dir / "zones"


def register_extras(registry: ZoneRegistry, var_dir: Path) -> None:
    """Register the zone sets imported with ``alertcast zones import``."""
    manifest = extra_dir(var_dir) / "zonesets.json"
    if not manifest.exists():
        return
    for entry in json.loads(manifest.read_text())["sets"]:
        registry.add_set_from_file(
            extra_dir(var_dir) / entry["file"],
            entry["name"],
            entry["id_field"],
            entry["name_field"],
            entry.get("description", ""),
        )


@zones_app.command("list")
def list_sets() -> None:
    """List the registered zone sets."""
    settings = get_settings()
    registry = ZoneRegistry.default(settings.data_dir)
    register_extras(registry, settings.var_dir)
    table = Table("set", "zones", "description")
    for info in registry.sets():
        table.add_row(info.name, str(info.count), info.description)
    out.print(table)


@zones_app.command("import")
def import_set(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON FeatureCollection")
    ],
    set_name: Annotated[
        str, typer.Option("--set", help="Name of the new zone set (CAP geocode valueName)")
    ],
    id_field: Annotated[str, typer.Option(help="Property holding each zone's id")],
    name_field: Annotated[str, typer.Option(help="Property holding each zone's display name")],
    description: Annotated[str, typer.Option(help="What the zones are")] = "",
) -> None:
    """Check and add a zone set; alerts can then name its zones with geocode valueName=SET."""
    settings = get_settings()
    registry = ZoneRegistry()
    try:
        zones = registry.add_set_from_file(file, set_name, id_field, name_field, description)
    except GeoError as exc:
        err.print(f"[red]cannot import {file}:[/red] {exc}")
        raise typer.Exit(1) from None
    folder = extra_dir(settings.var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = f"{set_name}.geojson"
    shutil.copyfile(file, folder / target)
    manifest = folder / "zonesets.json"
    data = json.loads(manifest.read_text()) if manifest.exists() else {"sets": []}
    data["sets"] = [s for s in data["sets"] if s["name"] != set_name] + [
        {
            "name": set_name,
            "file": target,
            "id_field": id_field,
            "name_field": name_field,
            "description": description,
        }
    ]
    manifest.write_text(json.dumps(data, indent=2))
    repaired = sum(1 for z in zones if z.repaired)
    out.print(
        f"zone set [bold]{set_name}[/bold]: {len(zones)} zones ({repaired} repaired geometries)"
    )
