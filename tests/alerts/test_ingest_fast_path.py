"""The ingest fast path: API-key cache semantics, concurrent repeats, one audit event per alert."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from alerts.access import service as access
from alerts.access.models import Agency, Principal
from alerts.app import create_app
from alerts.db import make_engine, session_scope
from tests.alerts.conftest import make_agency
from tests.capdocs import evacuation

CAP = {"Content-Type": "application/cap+xml"}
MANHATTAN = "40.70,-74.02 40.75,-74.02 40.75,-73.96 40.70,-73.96 40.70,-74.02"


def _principal(key_id: int = 1) -> Principal:
    return Principal(agency=Agency(id=1, name="a", senders=["s"]), key_id=key_id, admin=False)


def test_cache_keeps_successes_for_ttl_keyed_by_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: now[0])
    cache = access.PrincipalCache(ttl_s=5)
    assert cache.get("ak_secret") is None
    cache.put("ak_secret", _principal())
    assert cache.get("ak_secret") is not None
    assert "ak_secret" not in cache._entries  # only the SHA-256 digest is kept
    assert hashlib.sha256(b"ak_secret").hexdigest() in cache._entries
    now[0] += 5.0
    assert cache.get("ak_secret") is None  # expired: the next request asks the database


def test_cache_off_and_bounded() -> None:
    off = access.PrincipalCache(ttl_s=0)
    off.put("k", _principal())
    assert off.get("k") is None
    small = access.PrincipalCache(ttl_s=60, max_entries=3)
    for i in range(10):
        small.put(f"k{i}", _principal(i))
    assert len(small._entries) <= 3
    assert small.get("k9") is not None


def _revoke(settings, key_id: int) -> None:
    engine = make_engine(settings)
    with session_scope(engine) as session:
        access.revoke_key(session=session, key_id=key_id)
    engine.dispose()


def _key_id(settings, key: str) -> int:
    engine = make_engine(settings)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT id FROM api_key WHERE prefix = :p"), {"p": key[:12]}
        ).scalar_one()
    engine.dispose()
    return int(found)


@pytest.mark.parametrize("ttl", [0.0, 60.0])
def test_revoked_key_refused_after_cache_ttl(settings, ttl: float) -> None:
    nyc = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    doc = evacuation(zones=(), polygon=MANHATTAN)
    app = create_app(settings.model_copy(update={"api_key_cache_s": ttl}))
    with TestClient(app) as client:
        first = client.post("/api/v1/alerts", content=doc, headers={**CAP, **nyc.headers})
        assert first.status_code == 201, first.text
        _revoke(settings, _key_id(settings, nyc.key))
        again = client.post("/api/v1/alerts", content=doc, headers={**CAP, **nyc.headers})
        # Within the TTL the verified key still answers (here: the stored alert, 200).
        assert again.status_code == (401 if ttl == 0 else 200)
        app.state.key_cache.ttl_s = 0  # the TTL has run out
        late = client.post("/api/v1/alerts", content=doc, headers={**CAP, **nyc.headers})
        assert late.status_code == 401
        assert late.headers["content-type"] == "application/problem+json"


def test_concurrent_repeats_store_one_alert_and_one_audit_event(client, settings) -> None:
    nyc = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    doc = evacuation(zones=(), polygon=MANHATTAN)

    def post(_: int) -> tuple[int, int]:
        r = client.post("/api/v1/alerts", content=doc, headers={**CAP, **nyc.headers})
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(16)))
    assert sorted(s for s, _ in answers) == [200] * 15 + [201]
    assert len({i for _, i in answers}) == 1
    engine = make_engine(settings)
    with engine.connect() as conn:
        alerts = conn.execute(sa.text("SELECT count(*) FROM alert")).scalar_one()
        events = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'alert.alert'")
        ).scalar_one()
    engine.dispose()
    assert (alerts, events) == (1, 1)
