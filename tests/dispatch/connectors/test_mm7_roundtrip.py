"""Connector <-> MMSC simulator over loopback (real uvicorn server), every status path."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from alerts.dispatch.connectors.base import Classification
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client
from alerts.dispatch.connectors.mm7_xml import (
    REL5_NS,
)
from alerts.mmsc import SimulatorConfig, create_simulator_app
from alerts.mmsc.config import Faults
from tests.mmsc.support import make_content, make_request, serve

NUMBERS = ["+15551230001", "+15551230002", "+15551230003"]


@pytest.fixture(scope="module")
def mmsc():
    app = create_simulator_app(SimulatorConfig())
    with serve(app) as url:
        yield url, app.state.simulator


@pytest.fixture
def sim(mmsc):
    _url, simulator = mmsc
    simulator.config = SimulatorConfig(username="vasp", password="s3cret", vaspid="alertcast")
    simulator.reset()
    return simulator


@pytest.fixture
def url(mmsc):
    return mmsc[0] + "/mm7"


def _config(url: str, **kw) -> Mm7Config:
    base = {"url": url, "username": "vasp", "password": "s3cret", "vaspid": "alertcast",
            "sender_address": "112", "read_timeout_s": 5.0}  # fmt: skip
    return Mm7Config(**{**base, **kw})


async def _submit(config: Mm7Config, numbers=NUMBERS[:1], **kw):
    async with mm7_client(config) as client:
        return await Mm7Connector(config, client).submit(make_request(numbers, **kw))


def submit(config: Mm7Config, numbers=NUMBERS[:1], **kw):
    return asyncio.run(_submit(config, numbers, **kw))


def test_success_stores_the_message(sim, url):
    result = submit(_config(url))
    assert result.classification is Classification.SUCCESS
    assert (result.status_code, result.http_status) == (1000, 200)
    stored = sim.store.get(result.message_id)
    assert stored is not None
    assert [r.value for r in stored.recipients] == NUMBERS[:1]
    assert stored.text.startswith("Evacuate zone A")
    assert stored.priority == "High"
    assert [p.data for p in stored.parts] == [p.data for p in make_content().parts]


def test_multi_recipient_submit_in_one_request(sim, url):
    result = submit(_config(url, max_recipients=100), NUMBERS)
    assert result.ok
    assert not result.parts
    assert sim.stats.counters["recipients"] == 3
    assert sim.stats.counters["requests"] == 1


def test_3003_splits_into_single_recipient_submits(sim, url):
    sim.config = sim.config.model_copy(update={"max_recipients": 1})

    async def go():
        config = _config(url, max_recipients=10)
        async with mm7_client(config) as client:
            connector = Mm7Connector(config, client)
            first = await connector.submit(make_request(NUMBERS))
            second = await connector.submit(make_request(NUMBERS[:2], tid="batch-2"))
            return connector, first, second

    connector, first, second = asyncio.run(go())
    assert first.classification is Classification.SPLIT
    assert first.status_code == 3003
    assert [p.classification for p in first.parts] == [Classification.SUCCESS] * 3
    assert [p.recipients[0].value for p in first.parts] == NUMBERS
    assert len({p.message_id for p in first.parts}) == 3
    assert connector.max_recipients == 1  # learned: the second batch is split up front
    assert second.classification is Classification.SPLIT
    assert len(second.parts) == 2
    assert sim.stats.status_codes[3003] == 1
    assert sim.stats.status_codes[1000] == 5


def test_3003_without_split_reports_it(sim, url):
    sim.config = sim.config.model_copy(update={"max_recipients": 1})
    result = submit(_config(url, max_recipients=10, split_on_3003=False), NUMBERS)
    assert result.classification is Classification.SPLIT
    assert result.status_code == 3003
    assert not result.parts
    assert result.http_status == 500


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (4006, Classification.RETRYABLE),
        (3000, Classification.RETRYABLE),
        (4000, Classification.RETRYABLE),
        (2002, Classification.PERMANENT),
        (4007, Classification.LINK_MISCONFIGURED),
        (4008, Classification.LINK_MISCONFIGURED),
        (3510, Classification.RETRYABLE),
    ],
)
def test_injected_status_codes(sim, url, code, expected):
    sim.config = sim.config.model_copy(update={"faults": Faults(error_rates={code: 1.0})})
    result = submit(_config(url))
    assert (result.status_code, result.classification) == (code, expected)
    assert result.message_id is None
    assert result.http_status == 500


def test_fault_with_http_200_is_still_a_fault(sim, url):
    faults = Faults(error_rates={2002: 1.0}, fault_http_status=200)
    sim.config = sim.config.model_copy(update={"faults": faults})
    result = submit(_config(url))
    assert (result.http_status, result.status_code) == (200, 2002)
    assert result.classification is Classification.PERMANENT


def test_wrong_namespace_version_pair_is_link_misconfigured(sim, url):
    sim.config = sim.config.model_copy(
        update={"accepted_versions": [sim.config.accepted_versions[0]]}
    )
    result = submit(_config(url, namespace=REL5_NS, mm7_version="5.3.0"))
    assert (result.status_code, result.classification) == (4002, Classification.LINK_MISCONFIGURED)


def test_rel5_dialect_is_accepted_when_configured(sim, url):
    result = submit(_config(url, namespace=REL5_NS, mm7_version="5.3.0"))
    assert result.ok
    assert sim.store.get(result.message_id).version == "5.3.0"


def test_wrong_vaspid_is_link_misconfigured(sim, url):
    result = submit(_config(url, vaspid="someone-else"))
    assert (result.status_code, result.classification) == (4001, Classification.LINK_MISCONFIGURED)


@pytest.mark.parametrize("password", ["wrong", None])
def test_auth_failure_is_link_misconfigured(sim, url, password):
    result = submit(_config(url, password=password))
    assert result.http_status == 401
    assert result.classification is Classification.LINK_MISCONFIGURED
    assert sim.stats.counters["unauthorised"] == 1
    assert sim.store.total == 0


@pytest.mark.parametrize("mode", ["503", "4006"])
def test_throttling_is_retryable(sim, url, mode):
    faults = Faults(throttle_rps=2, throttle_response=mode)
    sim.config = sim.config.model_copy(update={"faults": faults})

    async def go():
        config = _config(url)
        async with mm7_client(config) as client:
            connector = Mm7Connector(config, client)
            return await asyncio.gather(
                *(connector.submit(make_request(NUMBERS[:1])) for _ in range(6))
            )

    results = asyncio.run(go())
    throttled = [r for r in results if not r.ok]
    assert throttled
    assert all(r.classification is Classification.RETRYABLE for r in throttled)
    expected = (503, 0) if mode == "503" else (500, 4006)
    assert {(r.http_status, r.status_code) for r in throttled} == {expected}
    assert sum(r.ok for r in results) <= 2


def test_outage_window_answers_503(sim, url):
    now = time.monotonic() - sim.stats.started
    sim.config = sim.config.model_copy(update={"faults": Faults(outages=[(now - 1, now + 30)])})
    result = submit(_config(url))
    assert (result.http_status, result.classification) == (503, Classification.RETRYABLE)


def test_http_5xx_without_soap_is_retryable(sim, url):
    sim.config = sim.config.model_copy(update={"faults": Faults(http_error_rates={502: 1.0})})
    result = submit(_config(url))
    assert (result.http_status, result.classification) == (502, Classification.RETRYABLE)


def test_timeout_is_retryable(sim, url):
    sim.config = sim.config.model_copy(update={"faults": Faults(latency_ms=600)})
    started = time.monotonic()
    result = submit(_config(url, read_timeout_s=0.15))
    assert result.classification is Classification.RETRYABLE
    assert result.status_text == "timeout"
    assert time.monotonic() - started < 0.6


def test_connection_refused_is_retryable(sim):
    result = submit(_config("http://127.0.0.1:9/mm7", connect_timeout_s=0.5))
    assert result.classification is Classification.RETRYABLE
    assert result.http_status is None


def test_oversized_content_is_refused(sim, url):
    sim.config = sim.config.model_copy(update={"max_content_bytes": 500})
    result = submit(_config(url))
    assert (result.status_code, result.classification) == (2004, Classification.PERMANENT)


@pytest.mark.parametrize("encoding", ["binary", "base64"])
def test_transfer_encodings_arrive_intact(sim, url, encoding):
    result = submit(_config(url, transfer_encoding=encoding))
    stored = sim.store.get(result.message_id)
    assert [p.data for p in stored.parts] == [p.data for p in make_content().parts]


def test_cancel_and_replace(sim, url):
    async def go():
        config = _config(url)
        async with mm7_client(config) as client:
            connector = Mm7Connector(config, client)
            sent = await connector.submit(make_request(NUMBERS[:1]))
            replaced = await connector.replace(
                sent.message_id, "t-r", make_content(text="Correction: zone B")
            )
            cancelled = await connector.cancel(sent.message_id, "t-c")
            unknown = await connector.cancel("no-such-id", "t-u")
            return sent, replaced, cancelled, unknown

    sent, replaced, cancelled, unknown = asyncio.run(go())
    assert replaced.status_code == 1000
    assert cancelled.status_code == 1000
    stored = sim.store.get(sent.message_id)
    assert stored.state == "cancelled"
    assert stored.text == "Correction: zone B"
    assert (unknown.status_code, unknown.classification) == (2005, Classification.PERMANENT)


def test_rate_limit_spaces_requests(sim, url):
    async def go():
        config = _config(url, rate_limit_per_s=20)
        async with mm7_client(config) as client:
            connector = Mm7Connector(config, client)
            started = time.monotonic()
            await asyncio.gather(*(connector.submit(make_request(NUMBERS[:1])) for _ in range(10)))
            return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert elapsed >= 0.45  # 10 requests at 20/s: the last one starts after 9 intervals
    assert sim.stats.peak_rps <= 20


def test_shared_client_is_reused(sim, url):
    async def go():
        config = _config(url)
        async with httpx.AsyncClient() as client:
            connector = Mm7Connector(config, client)
            return [
                await connector.submit(make_request(NUMBERS[:1], tid=f"t{i}")) for i in range(3)
            ]

    assert all(r.ok for r in asyncio.run(go()))
