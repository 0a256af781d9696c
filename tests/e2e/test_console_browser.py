"""The operator console in a real browser (Debian's chromium via Playwright) on a real server.

Screenshots go to test-artifacts/console/; look at them: would a stressed operator know what
they are about to do?
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from alerts import migrate
from alerts.app import create_app
from alerts.db import make_engine, session_scope
from alerts.settings import REPO_ROOT, Settings
from alerts.subscribers import service as subscribers
from alerts.subscribers.models import LocationIn, SubscriberCreate
from tests.console.conftest import PASSWORD, make_team
from tests.e2e.server import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = REPO_ROOT / "test-artifacts" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Subscribers around (-74.005, 40.715), Lower Manhattan: 6 English, 3 Spanish speakers.
PEOPLE = [
    (-74.005 + dx, 40.715 + dy, lang)
    for dx, dy, lang in [
        (0.0, 0.0, "en"),
        (0.002, 0.001, "en"),
        (-0.002, 0.001, "en"),
        (0.001, -0.002, "en"),
        (-0.001, -0.001, "en"),
        (0.003, 0.002, "en"),
        (0.0, 0.003, "es"),
        (0.002, -0.001, "es"),
        (-0.003, 0.0, "es"),
    ]
]
# A crowd in Midtown East, far from Zone A: 60 people, so a dispatch at 2/s takes 30 s.
CROWD = [(-73.975 + 0.025 * (i % 10) / 10, 40.752 + 0.015 * (i // 10) / 6, "en") for i in range(60)]
CROWD_CORNERS = [(40.749, -73.978), (40.749, -73.946), (40.770, -73.946), (40.770, -73.978)]
INSIDE_CORNERS = [(40.705, -74.02), (40.705, -73.99), (40.725, -73.99), (40.725, -74.02)]
STRADDLING_CORNERS = [(40.72, -73.95), (40.72, -73.90), (40.75, -73.90), (40.75, -73.95)]


@contextmanager
def running(settings: Settings, port: int, start_timeout_s: float = 120.0) -> Iterator[str]:
    """Serve the app on loopback; a generous start timeout for busy shared CI machines."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _populate(settings: Settings) -> None:
    engine = make_engine(settings)
    with session_scope(engine) as session:
        for i, (lon, lat, lang) in enumerate(PEOPLE + CROWD):
            subscribers.create_subscriber(
                session=session,
                data=SubscriberCreate(
                    phone=f"+1212736{3100 + i:04d}",
                    language=lang,
                    locations=[LocationIn(lon=lon, lat=lat)],
                    test_audience=i < 2,
                ),
            )
    engine.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite database with an agency, users and subscribers, served by uvicorn."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make system-deps)")
    if not (REPO_ROOT / "node_modules" / "leaflet").is_dir():
        pytest.skip("node_modules missing (make node_modules/.installed)")
    db = tmp_path_factory.mktemp("console") / "console.db"
    port = free_port()
    # The real dispatch path: in-process worker, embedded MMSC simulator, 2 SubmitReq/s.
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{db}",
        in_process_worker=True,
        embedded_mmsc=True,
        public_base_url=f"http://127.0.0.1:{port}",
        sim_report_delay_s=0.05,
        mmsc_rate_limit=2.0,
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    make_team(settings)
    _populate(settings)
    with running(settings, port) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium; never a downloaded browser."""
    sync_api.expect.set_options(timeout=30_000)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


JS_ERRORS: list[str] = []


@pytest.fixture(autouse=True)
def _no_script_errors() -> Iterator[None]:
    """Every page of a test ran its scripts without an uncaught error."""
    JS_ERRORS.clear()
    yield
    assert not JS_ERRORS, JS_ERRORS


@pytest.fixture(scope="module", autouse=True)
def _shots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)


def signed_in(browser: Any, server: str, username: str) -> Any:
    """A fresh browser context signed in as ``username``; returns its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server)
    context.set_default_timeout(60_000)  # shared CI machines can be slow; waits end early
    page = context.new_page()
    page.on("pageerror", lambda exc: JS_ERRORS.append(str(exc)))
    page.goto("/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/alerts")
    return page


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/console/."""
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def draw_polygon(page: Any, corners: list[tuple[float, float]]) -> None:
    """Click polygon corners (lat, lon) on the Leaflet map, then finish."""
    page.wait_for_selector("body[data-map-ready]")
    page.get_by_role("button", name="Draw polygon").click()
    for lat, lon in corners:
        x, y = page.evaluate(
            "([lat, lon]) => { const p = AC.current.latLngToContainerPoint([lat, lon]);"
            " return [p.x, p.y]; }",
            [lat, lon],
        )
        page.locator("#map").click(position={"x": x, "y": y})
    page.get_by_role("button", name="Finish polygon").click()


def compose_actual(page: Any) -> None:
    """Choose REAL, fill the evacuation template for Zone A and draw the area."""
    page.goto("/console/compose")
    shot(page, "01-choose-status")
    page.get_by_role("link", name="REAL ALERT").click()
    page.get_by_label("Area name").fill("Zone A")
    page.get_by_label("Start from a template").select_option("evacuation_order")
    draw_polygon(page, INSIDE_CORNERS)


def test_author_composes_and_second_person_approves(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "alice")
    compose_actual(page)
    reach = page.locator("#reach")
    sync_api.expect(reach).to_contain_text("Will reach 9 people", timeout=45_000)
    sync_api.expect(reach).to_contain_text("en 6")
    sync_api.expect(page.locator("#preview-map")).to_be_visible(timeout=45_000)
    assert page.title().startswith("REAL ALERT")
    sync_api.expect(page.locator("#mode-banner")).to_contain_text("REAL ALERT")
    sync_api.expect(page.locator("#c-h-en-US")).to_contain_text("/ 90")
    shot(page, "02-compose-actual")
    page.get_by_role("button", name="Review before sending").click()
    sync_api.expect(page.locator(".say")).to_contain_text("9 people")
    sync_api.expect(page.locator(".say")).to_contain_text("Zone A")
    shot(page, "03-confirm-actual")
    page.get_by_label("To send this REAL alert").fill("9")
    page.get_by_role("button", name="Submit REAL alert for approval").click()
    page.wait_for_url("**/console/alerts/*")
    alert_url = page.url
    sync_api.expect(page.locator("#own-alert")).to_be_visible()
    assert page.locator("#approve").count() == 0
    shot(page, "04-pending-author-view")

    approver = signed_in(browser, server, "bob")
    approver.goto(alert_url)
    shot(approver, "05-pending-approver-view")
    approver.get_by_role("button", name="Approve and send").click()
    sync_api.expect(approver.locator(".state")).to_contain_text("active")
    sync_api.expect(approver.get_by_role("link", name="False alarm — correct now")).to_be_visible()
    dashboard = approver.locator("#dashboard")
    sync_api.expect(dashboard).to_have_attribute("data-done", "1", timeout=120_000)
    sync_api.expect(dashboard).to_contain_text("100% delivered")
    sync_api.expect(dashboard).to_have_attribute("data-delivered", "9")
    shot(approver, "06-approved-delivered")


def test_cancel_mid_dispatch_stops_pending_deliveries(browser: Any, server: str) -> None:
    author = signed_in(browser, server, "alice")
    author.goto("/console/compose?status=Actual")
    author.get_by_label("Area name").fill("Midtown East")
    author.get_by_label("Start from a template").select_option("shelter_in_place")
    draw_polygon(author, CROWD_CORNERS)
    sync_api.expect(author.locator("#reach")).to_contain_text(
        "Will reach 60 people", timeout=45_000
    )
    author.get_by_role("button", name="Review before sending").click()
    author.get_by_label("To send this REAL alert").fill("Midtown East")
    author.get_by_role("button", name="Submit REAL alert for approval").click()
    author.wait_for_url("**/console/alerts/*")
    alert_url = author.url

    approver = signed_in(browser, server, "bob")
    approver.goto(alert_url)
    approver.get_by_role("button", name="Approve and send").click()
    dashboard = approver.locator("#dashboard")
    sync_api.expect(dashboard).to_contain_text("delivered", timeout=30_000)
    approver.get_by_role("link", name="Cancel alert").click()
    sync_api.expect(approver.locator("input[name=msg_type]")).to_have_value("Cancel")
    approver.get_by_role("button", name="Review before sending").click()
    shot(approver, "10-confirm-cancel")
    sync_api.expect(approver.locator(".say")).to_contain_text("its pending deliveries stop now")
    approver.get_by_label("To send this REAL cancellation").fill("Midtown East")
    approver.get_by_role("button", name="Send cancellation now").click()
    approver.wait_for_url("**/console/alerts/*")
    approver.goto(alert_url)
    sync_api.expect(approver.locator(".state")).to_contain_text("cancelled")
    dashboard = approver.locator("#dashboard")
    sync_api.expect(dashboard).to_have_attribute("data-done", "1", timeout=120_000)
    sync_api.expect(dashboard).to_contain_text("cancelled")
    sync_api.expect(dashboard).to_have_attribute("data-pending", "0")
    delivered = int(dashboard.get_attribute("data-delivered") or 0)
    assert 0 < delivered < 60
    shot(approver, "11-cancelled-mid-dispatch")


def test_one_click_stop_sending(browser: Any, server: str) -> None:
    """The approver sees the alert go out to the wrong people and stops it alone, at once."""
    author = signed_in(browser, server, "alice")
    author.goto("/console/compose?status=Actual")
    author.get_by_label("Area name").fill("Midtown East")
    author.get_by_label("Start from a template").select_option("shelter_in_place")
    draw_polygon(author, CROWD_CORNERS)
    sync_api.expect(author.locator("#reach")).to_contain_text(
        "Will reach 60 people", timeout=45_000
    )
    author.get_by_role("button", name="Review before sending").click()
    author.get_by_label("To send this REAL alert").fill("Midtown East")
    author.get_by_role("button", name="Submit REAL alert for approval").click()
    author.wait_for_url("**/console/alerts/*")
    alert_url = author.url

    approver = signed_in(browser, server, "bob")
    approver.goto(alert_url)
    approver.get_by_role("button", name="Approve and send").click()
    sync_api.expect(approver.locator("#dashboard")).to_contain_text("delivered", timeout=30_000)
    shot(approver, "12-stop-sending-offered")
    approver.get_by_role("button", name="Stop sending").click()
    approver.wait_for_url(alert_url)
    sync_api.expect(approver.get_by_role("button", name="Stop sending")).to_have_count(0)
    dashboard = approver.locator("#dashboard")
    sync_api.expect(dashboard).to_have_attribute("data-done", "1", timeout=120_000)
    sync_api.expect(dashboard).to_contain_text("cancelled")
    sync_api.expect(dashboard).to_have_attribute("data-pending", "0")
    delivered = int(dashboard.get_attribute("data-delivered") or 0)
    assert 0 < delivered < 60
    shot(approver, "13-stopped")


def test_exercise_banner_everywhere(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "alice")
    page.goto("/console/compose")
    page.get_by_role("link", name="EXERCISE").click()
    assert page.title().startswith("EXERCISE")
    sync_api.expect(page.locator("#mode-banner")).to_contain_text("NOT A REAL EMERGENCY")
    page.get_by_label("Area name").fill("Zone A")
    page.get_by_label("Start from a template").select_option("shelter_in_place")
    draw_polygon(page, INSIDE_CORNERS)
    sync_api.expect(page.locator("#reach")).to_contain_text(
        "Test audience in area: 2", timeout=45_000
    )
    sync_api.expect(page.locator(".phone-headline").first).to_contain_text("EXERCISE:")
    spanish = page.locator('[data-phone="es-US"] .phone-headline')
    sync_api.expect(spanish).to_contain_text("SIMULACRO:")  # marked in its own language
    sync_api.expect(spanish).not_to_contain_text("EXERCISE")
    sync_api.expect(page.locator("#preview-map")).to_be_visible(timeout=45_000)
    shot(page, "07-compose-exercise")
    page.get_by_role("button", name="Review before sending").click()
    sync_api.expect(page.locator("#mode-banner")).to_contain_text("EXERCISE")
    shot(page, "08-confirm-exercise")


def test_drawing_outside_jurisdiction_is_refused(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "alice")
    page.goto("/console/compose?status=Actual")
    page.get_by_label("Area name").fill("Queens")
    page.wait_for_selector("body[data-map-ready]")
    page.evaluate("() => AC.current.setZoom(AC.current.getZoom() - 1, {animate: false})")
    draw_polygon(page, STRADDLING_CORNERS)
    sync_api.expect(page.locator("#area-status")).to_contain_text("outside", timeout=45_000)
    sync_api.expect(page.locator("#area-status")).to_contain_text("jurisdiction")
    sync_api.expect(page.get_by_role("button", name="Review before sending")).to_be_disabled()
    shot(page, "09-outside-jurisdiction")


def test_no_serious_accessibility_violations(browser: Any, server: str) -> None:
    page = signed_in(browser, server, "alice")
    found: dict[str, list[str]] = {}
    for path in [
        "/console/alerts",
        "/console/compose",
        "/console/compose?status=Actual",
        "/console/audit",
    ]:
        page.goto(path)
        if "status=" in path:
            page.wait_for_selector("body[data-map-ready]")
        shot(page, "12-page-" + path.strip("/").replace("/", "-").replace("?", "-"))
        bad = axe_violations(page)
        if bad:
            found[path] = [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad]
    page.context.clear_cookies()
    page.goto("/console/login")
    bad = axe_violations(page)
    if bad:
        found["/console/login"] = [f"{v['id']}: {v['help']}" for v in bad]
    assert not found, found
