"""`alertcast mm7 send` against the simulator on loopback (the contract checks rely on)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from alerts.dispatch.connectors.mm7_xml import (
    REL5_NS,
)
from alerts.dispatch.mm7_cli import mm7_app, mmsc_sim
from alerts.mmsc import SimulatorConfig, create_simulator_app
from tests.mmsc.support import png_bytes, serve

runner = CliRunner()


@pytest.fixture(scope="module")
def mmsc():
    app = create_simulator_app(SimulatorConfig(username="vasp", password="pw"))
    with serve(app) as url:
        yield url + "/mm7", app.state.simulator


@pytest.fixture
def sim(mmsc):
    simulator = mmsc[1]
    simulator.config = SimulatorConfig(username="vasp", password="pw")
    simulator.reset()
    return simulator


def send(url, *args):
    return runner.invoke(
        mm7_app, ["send", "--url", url, "--user", "vasp", "--password", "pw", *args]
    )


def _field(output: str, name: str) -> str:
    return next(
        line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(name + ":")
    )


def test_send_text_and_image(mmsc, sim, tmp_path):
    image = tmp_path / "map.png"
    image.write_bytes(png_bytes())
    result = send(mmsc[0], "--to", "+15551230001", "--text", "Test SAFE", "--image", str(image))
    assert result.exit_code == 0, result.output
    assert _field(result.output, "status") == "1000"
    stored = sim.store.get(_field(result.output, "message_id"))
    assert stored.text == "Test SAFE"
    assert [p.media_type for p in stored.parts] == ["application/smil", "image/png", "text/plain"]
    assert stored.parts[1].data == image.read_bytes()
    assert "pw" not in result.output


def test_several_recipients_go_in_one_submit(mmsc, sim):
    result = send(mmsc[0], "--to", "+15551230001", "--to", "+15551230002")
    assert result.exit_code == 0
    assert sim.stats.counters["requests"] == 1
    assert sim.stats.counters["recipients"] == 2


def test_refused_multi_recipient_exits_1_without_splitting(mmsc, sim):
    sim.config = sim.config.model_copy(update={"max_recipients": 1})
    result = send(mmsc[0], "--to", "+15551230001", "--to", "+15551230002")
    assert result.exit_code == 1
    assert _field(result.output, "status") == "3003"
    assert sim.stats.counters["requests"] == 1


def test_rel5_dialect(mmsc, sim):
    result = send(mmsc[0], "--to", "+15551230001", "--mm7-version", "5.3.0", "--namespace", REL5_NS)
    assert result.exit_code == 0
    assert sim.store.get(_field(result.output, "message_id")).version == "5.3.0"


def test_mismatched_dialect_is_refused_before_sending(mmsc, sim):
    result = send(mmsc[0], "--to", "+15551230001", "--mm7-version", "5.3.0")
    assert result.exit_code == 2
    assert sim.stats.counters["requests"] == 0


def test_wrong_password_exits_1(mmsc, sim):
    result = runner.invoke(
        mm7_app, ["send", "--url", mmsc[0], "--to", "+1555", "--user", "vasp", "--password", "x"]
    )
    assert result.exit_code == 1
    assert _field(result.output, "http_status") == "401"


def test_unreachable_mmsc_exits_1():
    result = runner.invoke(mm7_app, ["send", "--url", "http://127.0.0.1:9/mm7", "--to", "+1555"])
    assert result.exit_code == 1
    assert _field(result.output, "status") == "0"


def test_mmsc_sim_is_a_typer_command():
    app = typer.Typer()
    app.command("mmsc-sim")(mmsc_sim)
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--vasp-url" in result.output
    assert "--port" in result.output
