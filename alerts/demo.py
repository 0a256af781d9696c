"""``alertcast seed`` and ``alertcast demo``: the seeded embedded system, and the whole job once.

The demo runs everything on this machine with no servers to install: a fresh SQLite database,
the NYC hurricane evacuation zones, synthetic subscribers placed by 2020 census population,
the service with its in-process worker and built-in MMSC simulator on a loopback port, and a
real-looking CAP hurricane evacuation order for zones 1 and 2.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.live import Live
from rich.table import Table

from alerts import migrate
from alerts.access import jurisdiction
from alerts.access import service as access
from alerts.access.models import AgencyCreate
from alerts.db import make_engine, session_scope
from alerts.settings import Settings, get_settings

DEMO_AGENCY = "NYC Emergency Management (demo)"
DEMO_SENDER = "nycem@nyc.gov"
FINAL = ("delivered", "failed", "expired", "cancelled")


def _agency_key(settings: Settings, *, admin: bool = True) -> str:
    engine = make_engine(settings)
    try:
        with session_scope(engine) as session:
            try:
                agency = access.find_agency(session=session, ref=DEMO_AGENCY)
            except Exception:  # not there yet
                agency = access.create_agency(
                    session=session, data=AgencyCreate(name=DEMO_AGENCY, senders=[DEMO_SENDER])
                )
            assert agency.id is not None
            if not agency.jurisdiction_geojson:
                # New York City: areas elsewhere are refused, as for a real city agency.
                boundary = settings.data_dir / jurisdiction.NYC_BOROUGHS
                agency.jurisdiction_geojson = jurisdiction.from_boundary_file(boundary)
                session.add(agency)
            return access.issue_key(
                session=session, agency_id=agency.id, label="demo", admin=admin
            ).key
    finally:
        engine.dispose()


def _subscriber_count(settings: Settings) -> int:
    engine = make_engine(settings)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text("SELECT count(*) FROM subscriber")).scalar_one())
    engine.dispose()
    return n


def _synth(settings: Settings, n: int) -> int:
    from alerts.app import zone_registry
    from alerts.subscribers.synth import synth_into

    engine = make_engine(settings)
    try:
        return synth_into(
            engine,
            zone_registry(settings.data_dir, settings.var_dir),
            n=n,
            zone_set="nyc_evacuation_zones",
            seed=2026,
        ).subscribers
    finally:
        engine.dispose()


def seed_demo(
    settings: Settings, *, subscribers: int, say: Callable[[str], None]
) -> dict[str, str]:
    """Demo agency, an admin key (written under var/), operators, synthetic subscribers."""
    key = _agency_key(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    key_file = settings.var_dir / "demo-api-key.txt"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    _seed_users(settings, say)
    if _subscriber_count(settings) == 0 and subscribers > 0:
        say(f"placing {subscribers} synthetic subscribers in NYC by census population...")
        _synth(settings, subscribers)
    return {"agency": DEMO_AGENCY, "key_file": str(key_file)}


DEMO_USERS = (("author", "author"), ("approver", "approver"), ("admin", "admin"))


def _seed_users(settings: Settings, say: Callable[[str], None]) -> None:
    """Demo operators (author, approver, admin) with generated passwords in var/demo-users.txt."""
    import secrets

    from sqlmodel import select

    from alerts.access.user_models import User, UserCreate
    from alerts.access.users import create_user

    if settings.env == "production":
        return
    lines = []
    engine = make_engine(settings)
    try:
        with session_scope(engine) as session:
            agency = access.find_agency(session=session, ref=DEMO_AGENCY)
            assert agency.id is not None
            for username, role in DEMO_USERS:
                if session.exec(select(User).where(User.username == username)).first():
                    continue
                password = secrets.token_urlsafe(12)
                create_user(
                    session=session,
                    data=UserCreate(
                        username=username,
                        display_name=f"Demo {role}",
                        role=role,
                        agency_id=agency.id,
                        password=password,
                    ),
                    actor="seed",
                )
                lines.append(f"{username}\t{role}\t{password}")
    finally:
        engine.dispose()
    if lines:
        users_file = settings.var_dir / "demo-users.txt"
        with users_file.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        users_file.chmod(0o600)
        say(f"demo console users (username, role, password) written to {users_file}")


def _cap(zones: tuple[str, ...]) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)

    def t(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")

    geocodes = "".join(
        f"<geocode><valueName>nyc_evacuation_zones</valueName><value>{z}</value></geocode>"
        for z in zones
    )
    info = {
        "en-US": (
            "Hurricane Evacuation Order",
            "Evacuate NYC hurricane zones 1 and 2 now",
            "Leave now for a shelter or friends outside zones 1 and 2. Take medicine and documents.",
        ),
        "es-US": (
            "Orden de evacuación por huracán",
            "Evacúe ahora las zonas 1 y 2 de Nueva York",
            "Salga ahora hacia un refugio o a casa de amigos fuera de las zonas 1 y 2.",
        ),
    }
    infos = "".join(
        f"<info><language>{lang}</language><category>Met</category><event>{ev}</event>"
        "<responseType>Evacuate</responseType><urgency>Immediate</urgency><severity>Extreme</severity>"
        f"<certainty>Likely</certainty><expires>{t(now + timedelta(hours=12))}</expires>"
        f"<senderName>NYC Emergency Management</senderName><headline>{head}</headline>"
        "<description>A hurricane is expected to bring dangerous storm surge to coastal areas.</description>"
        f"<instruction>{instr}</instruction><web>https://www.nyc.gov/knowyourzone</web>"
        f"<area><areaDesc>NYC hurricane evacuation zones {' and '.join(zones)}</areaDesc>{geocodes}</area></info>"
        for lang, (ev, head, instr) in info.items()
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>NYCEM-DEMO-{int(now.timestamp())}</identifier><sender>{DEMO_SENDER}</sender>"
        f"<sent>{t(now)}</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>"
        f"{infos}</alert>"
    ).encode()


def funnel(summary: dict[str, Any]) -> dict[str, int]:
    """The demo's funnel counts from a deliveries summary."""
    by = summary["by_state"]
    pending = sum(by.get(s, 0) for s in ("queued", "claimed", "submitting", "submitted"))
    submitted = sum(by.get(s, 0) for s in ("submitted", "delivered")) + _submitted_failures(summary)
    return {
        "targeted": int(summary["targeted"]),
        "submitted": submitted,
        "delivered": by.get("delivered", 0),
        "failed": by.get("failed", 0),
        "pending": pending,
        "cancelled": by.get("cancelled", 0),
        "expired": by.get("expired", 0),
    }


def _submitted_failures(summary: dict[str, Any]) -> int:
    return sum(
        n
        for reason, n in summary.get("failures_by_reason", {}).items()
        if reason.startswith("MMStatus")
    )


def _table(counts: dict[str, int], seconds: float) -> Table:
    table = Table(title=f"Hurricane evacuation, NYC zones 1-2 — {seconds:.1f} s")
    for key in counts:
        table.add_column(key, justify="right")
    table.add_row(*(f"{v:,}" for v in counts.values()))
    return table


@contextlib.contextmanager
def _server(settings: Settings, port: int) -> Iterator[str]:
    import threading

    import uvicorn

    from alerts.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="error", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(
    *, subscribers: int, out_dir: Path, quiet: bool = False, timeout_s: float = 900
) -> dict[str, Any]:
    """Run the demo end to end and return the summary (also written to out_dir/summary.json)."""
    console = Console(stderr=True, quiet=quiet)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="alertcast-demo-"))
    port = _free_port()
    base = get_settings()
    settings = base.model_copy(
        update={
            "database_url": f"sqlite:///{state / 'demo.db'}",
            "var_dir": state,
            "env": "development",
            "public_base_url": f"http://127.0.0.1:{port}",
            "in_process_worker": True,
            "embedded_mmsc": True,
            "mmsc_url": None,
            "mmsc_max_recipients": 50,
            "worker_concurrency": 8,
            "sim_report_delay_s": 0.5,
        }
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    console.print(
        f"[bold]1/4[/bold] {subscribers:,} synthetic subscribers placed by 2020 census population..."
    )
    _synth(settings, subscribers)
    key = _agency_key(settings)
    console.print(f"[bold]2/4[/bold] service with built-in MMSC simulator on 127.0.0.1:{port}")
    auth = {"Authorization": f"Bearer {key}"}
    with (
        _server(settings, port) as url,
        httpx.Client(base_url=url, timeout=60, headers=auth) as client,
    ):
        console.print("[bold]3/4[/bold] CAP hurricane evacuation order for zones 1-2 posted")
        started = time.monotonic()
        resp = client.post(
            "/api/v1/alerts",
            content=_cap(("1", "2")),
            headers={"Content-Type": "application/cap+xml"},
        )
        resp.raise_for_status()
        alert_id = int(resp.json()["id"])
        counts = _watch(client, alert_id, started, console, timeout_s)
        seconds = round(time.monotonic() - started, 2)
        paths = _write_outputs(client, alert_id, out_dir)
    summary = {**counts, "seconds": seconds, "alert_id": alert_id, **paths}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(_table(counts, seconds))
    console.print(f"[bold]4/4[/bold] map: {paths['map']}  MMS preview: {paths['preview']}")
    return summary


def _watch(
    client: httpx.Client, alert_id: int, started: float, console: Console, timeout_s: float
) -> dict[str, int]:
    counts = {"targeted": 0}
    with Live(_table(counts, 0), console=console, refresh_per_second=4, transient=False) as live:
        while time.monotonic() - started < timeout_s:
            summary = client.get(
                f"/api/v1/alerts/{alert_id}/deliveries", params={"limit": 1}
            ).json()["summary"]
            counts = funnel(summary)
            live.update(_table(counts, time.monotonic() - started))
            if (
                summary["plan_state"] in ("done", "blocked", "cancelled", "expired")
                and counts["pending"] == 0
            ):
                break
            time.sleep(0.25)
    return counts


def _write_outputs(client: httpx.Client, alert_id: int, out_dir: Path) -> dict[str, str]:
    image = client.get(f"/api/v1/alerts/{alert_id}/map.png", params={"size": "640x480"})
    image.raise_for_status()
    suffix = ".png" if image.headers["content-type"] == "image/png" else ".jpg"
    map_path = out_dir / f"map{suffix}"
    map_path.write_bytes(image.content)
    preview = client.get(f"/api/v1/alerts/{alert_id}/preview").json()
    preview_path = out_dir / "mms-preview.json"
    preview_path.write_text(json.dumps(preview, indent=2, ensure_ascii=False))
    for lang, msg in preview["languages"].items():
        (out_dir / f"mms-text.{lang}.txt").write_text(msg["full"] + "\n")
    return {"map": str(map_path.resolve()), "preview": str(preview_path.resolve())}
