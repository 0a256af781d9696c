"""Orchestration that spans domains (ingest from a file or URL)."""

from __future__ import annotations

from pathlib import Path

import httpx

from alerts.access import service as access
from alerts.db import make_engine, session_scope
from alerts.intake import service as intake
from alerts.settings import Settings


def read_source(source: str, *, max_bytes: int, timeout_s: float) -> bytes:
    """Read CAP bytes from a path or an http(s) URL, within the size limit."""
    if source.startswith(("http://", "https://")):
        with httpx.Client(timeout=timeout_s) as client, client.stream("GET", source) as resp:
            resp.raise_for_status()
            data = b""
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise ValueError(f"{source} is over the {max_bytes}-byte limit")
            return data
    return Path(source).read_bytes()


def ingest_source(*, source: str, agency_ref: str, settings: Settings) -> intake.IngestOutcome:
    """Ingest a CAP document from a file or URL as an agency; a running service sends it."""
    data = read_source(
        source, max_bytes=settings.max_cap_bytes * 2, timeout_s=settings.http_timeout_s
    )
    from alerts.app import zone_registry  # the zone sets the service resolves geocodes with
    from alerts.zones.targeting import Targeting

    resolver = Targeting(zone_registry(settings.data_dir, settings.var_dir)).area_outcome
    engine = make_engine(settings)
    try:
        with session_scope(engine) as session:
            agency = access.find_agency(session=session, ref=agency_ref)
            outcome = intake.ingest(
                session=session,
                data=data,
                agency=agency,
                max_bytes=settings.max_cap_bytes,
                actor="cli",
                via="cli",
                area_resolver=resolver,
            )
        if outcome.created:
            from alerts.dispatch.planloop import notify

            notify(engine)  # the service's planners listen: planned now, not at the next poll
        return outcome
    finally:
        engine.dispose()
