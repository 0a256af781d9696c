"""A standalone MM7 MMSC simulator (its own ASGI app) for the demo, the tests and the benchmarks."""

from alerts.mmsc.app import create_simulator_app
from alerts.mmsc.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_simulator_app"]
