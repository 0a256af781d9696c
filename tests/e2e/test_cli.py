"""The command line as a user runs it: demo --json contract, admin commands, ingest, validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
ALERTCAST = str(Path(sys.executable).parent / "alertcast")


def _run(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALERTCAST, *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_demo_json_contract(tmp_path):
    out = tmp_path / "demo-out"
    proc = _run(["demo", "--subscribers", "3000", "--json", "--out", str(out)], {}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in (
        "targeted",
        "submitted",
        "delivered",
        "failed",
        "pending",
        "cancelled",
        "expired",
        "seconds",
        "map",
    ):
        assert key in summary, key
    assert summary["targeted"] > 0
    assert summary["delivered"] + summary["failed"] == summary["targeted"]
    assert summary["pending"] == 0
    with Image.open(summary["map"]) as image:
        assert image.size == (640, 480)
    preview = json.loads((out / "mms-preview.json").read_text())
    assert {"en-US", "es-US"} <= set(preview["languages"])


def test_admin_commands_and_ingest(tmp_path, shared_data):
    env = {
        "ALERTCAST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "ALERTCAST_VAR_DIR": str(tmp_path),
    }
    assert _run(["db", "upgrade"], env).returncode == 0
    made = _run(["agency", "create", "NWS Sacramento", "--sender", "KSTO@NWS.NOAA.GOV"], env)
    assert made.returncode == 0, made.stderr
    key = _run(["apikey", "create", "--agency", "NWS Sacramento"], env)
    assert key.returncode == 0
    assert key.stdout.strip().startswith("ak_")
    sample = shared_data / "cap/samples/oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml"
    first = _run(["ingest", str(sample), "--agency", "NWS Sacramento"], env)
    assert first.returncode == 0, first.stderr
    assert "stored" in first.stdout
    again = _run(["ingest", str(sample), "--agency", "NWS Sacramento"], env)
    assert "already stored" in again.stdout
    bad = _run(
        [
            "ingest",
            str(shared_data / "cap/samples/invalid_missing_scope.xml"),
            "--agency",
            "NWS Sacramento",
        ],
        env,
    )
    assert bad.returncode == 1
    assert "XSD-INVALID" in bad.stderr


def test_validate_exit_codes(shared_data):
    good = shared_data / "cap/samples/oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml"
    bad = shared_data / "cap/samples/invalid_missing_scope.xml"
    assert _run(["validate", str(good)], {}).returncode == 0
    assert _run(["validate", str(good), str(bad)], {}).returncode == 1
    assert _run(["validate", "/nonexistent.xml"], {}).returncode == 2
    report = json.loads(_run(["validate", "--json", str(bad)], {}).stdout)
    assert "XSD-INVALID" in json.dumps(report)


def test_subscribers_import_reports_bad_rows(tmp_path):
    env = {"ALERTCAST_DATABASE_URL": f"sqlite:///{tmp_path / 'subs.db'}"}
    assert _run(["db", "upgrade"], env).returncode == 0
    csv = tmp_path / "s.csv"
    csv.write_text("phone,language,lon,lat\n+12127363100,en,-73.99,40.75\nnope,en,-73.9,40.7\n")
    proc = _run(["subscribers", "import", str(csv)], env)
    assert proc.returncode == 1
    assert "nothing imported" in proc.stderr
    assert "12127363100" not in proc.stderr + proc.stdout
    csv.write_text("phone,language,lon,lat\n+12127363100,en,-73.99,40.75\n")
    ok = _run(["subscribers", "import", str(csv)], env)
    assert ok.returncode == 0, ok.stderr
    assert "1 new subscribers" in ok.stdout


def test_agency_create_with_jurisdiction(tmp_path):
    """`agency create --jurisdiction FILE` stores the area; a non-area file is a usage error."""
    env = {"ALERTCAST_DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}"}
    assert _run(["db", "upgrade"], env).returncode == 0
    square = {
        "type": "Polygon",
        "coordinates": [
            [[-74.1, 40.6], [-73.8, 40.6], [-73.8, 40.9], [-74.1, 40.9], [-74.1, 40.6]]
        ],
    }
    area = tmp_path / "nyc.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": square}))
    made = _run(
        ["agency", "create", "NYCEM", "--sender", "a@nyc.gov", "--jurisdiction", str(area)], env
    )
    assert made.returncode == 0, made.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "j.db") as db:
        stored = db.execute("SELECT jurisdiction_geojson FROM agency WHERE name='NYCEM'").fetchone()
    assert json.loads(stored[0])["type"] == "Polygon"
    line = tmp_path / "line.geojson"
    line.write_text(json.dumps({"type": "LineString", "coordinates": [[-74, 40], [-73, 41]]}))
    refused = _run(
        ["agency", "create", "X", "--sender", "x@nyc.gov", "--jurisdiction", str(line)], env
    )
    assert refused.returncode == 2
    assert "polygon" in refused.stderr
    junk = tmp_path / "junk.geojson"
    junk.write_text("not json")
    assert (
        _run(
            ["agency", "create", "Y", "--sender", "y@nyc.gov", "--jurisdiction", str(junk)], env
        ).returncode
        == 2
    )
    with sqlite3.connect(tmp_path / "j.db") as db:
        assert db.execute("SELECT count(*) FROM agency").fetchone()[0] == 1
