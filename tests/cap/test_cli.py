"""``validate`` command contract: exit codes 0/1/2, human report, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from alerts.cap.cli import validate

VALID = "oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml"
INVALID = "invalid_ca_empty_references_element.xml"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command(name="validate")(validate)

    @app.command()
    def other() -> None:  # a second command keeps "validate" a named subcommand
        """Unused."""

    return app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_all_valid_exits_0(app, runner, samples_dir: Path) -> None:
    result = runner.invoke(app, ["validate", str(samples_dir / VALID)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output
    assert "1 valid, 0 invalid" in result.output


def test_any_invalid_exits_1_with_rule_and_line(app, runner, samples_dir: Path) -> None:
    result = runner.invoke(app, ["validate", str(samples_dir / VALID), str(samples_dir / INVALID)])
    assert result.exit_code == 1
    assert "INVALID" in result.output
    assert "CAP-REFERENCES-FORMAT line 12 /alert/references[1]" in result.output
    assert "1 valid, 1 invalid" in result.output


def test_json_output(app, runner, samples_dir: Path) -> None:
    result = runner.invoke(
        app, ["validate", "--json", str(samples_dir / VALID), str(samples_dir / INVALID)]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    first, second = report["files"]
    assert first["valid"] is True
    assert first["cap_version"] == "1.2"
    assert first["alert"]["identifier"] == "KSTO1055887203"
    assert second["valid"] is False
    assert {"rule": "CAP-REFERENCES-FORMAT", "line": 12, "severity": "error"}.items() <= (
        next(i for i in second["issues"] if i["rule"] == "CAP-REFERENCES-FORMAT").items()
    )


def test_json_all_valid_exits_0(app, runner, samples_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--json", str(samples_dir / VALID)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["valid"] is True


def test_missing_file_is_usage_error(app, runner, samples_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(samples_dir / VALID), str(tmp_path / "nope.xml")])
    assert result.exit_code == 2


def test_no_file_is_usage_error(app, runner) -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 2


def test_directory_is_usage_error(app, runner, samples_dir: Path) -> None:
    assert runner.invoke(app, ["validate", str(samples_dir)]).exit_code == 2


def test_unknown_option_is_usage_error(app, runner, samples_dir: Path) -> None:
    assert runner.invoke(app, ["validate", "--bogus", str(samples_dir / VALID)]).exit_code == 2


def test_profile_and_signature_options(app, runner, samples_dir: Path) -> None:
    path = str(samples_dir / VALID)
    assert runner.invoke(app, ["validate", "--ipaws", path]).exit_code == 1
    assert runner.invoke(app, ["validate", "--require-signature", path]).exit_code == 1
    signed = str(samples_dir / "ipaws_cancel_no_info_references_signed.xml")
    result = runner.invoke(app, ["validate", "--ipaws", "--require-signature", signed])
    assert result.exit_code == 0, result.output


def test_every_shared_sample(app, runner, samples_dir: Path) -> None:
    paths = sorted(samples_dir.glob("*.xml"))
    result = runner.invoke(app, ["validate", "--json", *map(str, paths)])
    assert result.exit_code == 1
    verdicts = {Path(f["file"]).name: f["valid"] for f in json.loads(result.stdout)["files"]}
    assert {n for n, ok in verdicts.items() if not ok} == {
        p.name for p in paths if p.name.startswith("invalid_")
    }
