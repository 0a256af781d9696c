"""The command line starts quickly: heavy sub-commands are imported only when they run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from alerts.cli import LAZY_COMMANDS, app, load_command


def test_help_imports_no_heavy_stack() -> None:
    """`alertcast --help` needs neither the database, web nor geometry libraries."""
    code = (
        "import sys\n"
        "from alerts.cli import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'sqlalchemy', 'fastapi', 'numpy', 'shapely', 'lxml', 'pydantic'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    for name in LAZY_COMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_listed_help_matches_the_command(name: str) -> None:
    """The help line `--help` shows for a lazy command is the command's own first line."""
    command = load_command(name)
    assert (command.help or "").strip().splitlines()[0] == LAZY_COMMANDS[name][2]


def test_lazy_command_runs_and_fails_like_any_other() -> None:
    """A lazy command parses its own arguments (usage error: exit 2) once loaded."""
    runner = CliRunner()
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output
    result = runner.invoke(app, ["zones", "--help"])
    assert result.exit_code == 0
    assert "Zone sets" in result.output
