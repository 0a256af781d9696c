"""Settings of the MMSC simulator: accepted MM7 dialects, limits, delivery reports, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from alerts.dispatch.connectors.mm7_xml import (
    REL5_NS,
    REL5_VERSION,
    REL6_NS,
    REL6_VERSION,
)

MM_STATUSES = ("Retrieved", "Expired", "Rejected", "Deferred", "Unrecognised", "Indeterminate")


class ReportPlan(BaseModel):
    """When and how the simulator posts DeliveryReportReq back to the VASP."""

    model_config = ConfigDict(extra="forbid")

    delay_s: float = Field(0.5, ge=0.0, le=2.0)
    jitter_s: float = Field(0.2, ge=0.0, le=2.0)
    outcomes: dict[str, float] = Field(default_factory=lambda: {"Retrieved": 1.0})
    loss_rate: float = Field(0.0, ge=0.0, le=1.0)
    duplicate_rate: float = Field(0.0, ge=0.0, le=1.0)
    slow_rate: float = Field(0.0, ge=0.0, le=1.0)
    slow_delay_s: float = Field(5.0, ge=0.0)
    attempts: int = Field(3, ge=1, le=10)
    # A real MMSC stores reports until the VASP takes them: the cap only guards memory (~250 B each).
    max_in_flight: int = Field(2_000_000, ge=1)

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, value: dict[str, float]) -> dict[str, float]:
        """Outcomes must be TS 23.140 MMStatus values with a positive total weight."""
        unknown = set(value) - set(MM_STATUSES)
        if unknown:
            raise ValueError(f"unknown MMStatus outcome(s): {sorted(unknown)}")
        if sum(value.values()) <= 0:
            raise ValueError("outcome weights must add up to more than 0")
        return value


class Faults(BaseModel):
    """Fault injection: latency, error rates, throttling, outages."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(0.0, ge=0.0)
    latency_distribution: Literal["fixed", "uniform", "exponential"] = "fixed"
    error_rates: dict[int, float] = Field(default_factory=dict)
    http_error_rates: dict[int, float] = Field(default_factory=dict)
    throttle_rps: float | None = Field(None, gt=0.0)
    throttle_response: Literal["4006", "503"] = "4006"
    outages: list[tuple[float, float]] = Field(default_factory=list)
    fault_http_status: int = 500


class SimulatorConfig(BaseModel):
    """The whole simulator configuration (mutable at run time through `Simulator.config`)."""

    model_config = ConfigDict(extra="forbid")

    vasp_url: str | None = None
    vasp_username: str | None = None
    vasp_password: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    vaspid: str | None = None
    accepted_versions: list[tuple[str, str]] = Field(
        default_factory=lambda: [(REL6_NS, REL6_VERSION), (REL5_NS, REL5_VERSION)]
    )
    max_recipients: int = Field(100, ge=1)
    max_content_bytes: int = Field(600 * 1024, ge=1)
    store_limit: int = Field(1000, ge=0)
    relay_server_id: str = "alertcast-mmsc-sim"
    default_sender: str = "12345"
    seed: int | None = None
    schema_dir: Path | None = None
    reports: ReportPlan = Field(default_factory=ReportPlan)
    faults: Faults = Field(default_factory=Faults)
