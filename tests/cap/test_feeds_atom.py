"""Feed documents (ATOM, RSS, EDXL-DE) and the ATOM feed builder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from alerts.cap import parse, unwrap_edxl
from alerts.cap.atom import AtomEntry, build_atom_feed, build_feed
from alerts.cap.feeds import FeedError, parse_feed

ATOM = "{http://www.w3.org/2005/Atom}"


def test_usgs_atom_index_links_cap_by_media_type(feeds_dir: Path) -> None:
    feed = parse_feed((feeds_dir / "usgs_earthquake_index.atom").read_bytes())
    assert feed.kind == "atom"
    (entry,) = feed.items
    assert entry.entry_id == "urn:earthquake-usgs-gov:us:2010apcd"
    assert entry.cap_url == "http://earthquake.usgs.gov/earthquakes/catalogs/cap/us2010apcd"
    assert entry.updated == datetime(2010, 8, 30, 23, 25, 40, tzinfo=UTC)
    assert entry.cap_xml is None


def test_nws_index_feed(feeds_dir: Path) -> None:
    feed = parse_feed((feeds_dir / "nws_cap11_atom_index_us_2018.atom").read_bytes())
    assert len(feed.items) > 100
    assert all(
        e.cap_url and e.cap_url.startswith("https://alerts.weather.gov/") for e in feed.items
    )
    assert all(e.entry_id and e.updated and e.updated.tzinfo for e in feed.items)


def test_nws_full_feed_embeds_cap(feeds_dir: Path) -> None:
    feed = parse_feed((feeds_dir / "nws_cap11_full_atom_feed.atom").read_bytes())
    (entry,) = feed.items
    assert entry.cap_xml is not None
    result = parse(entry.cap_xml)
    assert result.ok, result.errors
    assert result.cap_version == "1.1"


@pytest.mark.parametrize(
    ("name", "count", "first_id"),
    [
        ("amber_rss_feed.rss", 1, "KAR0-0306112239-SW"),
        ("ny_index_rss_feed.rss", 2, "NYAlert-ALLHAZALERT-3167113"),
    ],
)
def test_rss_feeds(feeds_dir: Path, name: str, count: int, first_id: str) -> None:
    feed = parse_feed((feeds_dir / name).read_bytes())
    assert feed.kind == "rss"
    assert len(feed.items) == count
    entry = feed.items[0]
    assert entry.entry_id == first_id
    assert entry.cap_url is not None
    assert entry.cap_url.startswith("http://")
    assert entry.updated is not None
    assert entry.updated.tzinfo is not None


def test_edxl_envelope_unwrapped(feeds_dir: Path) -> None:
    data = (feeds_dir / "au_bushfire_edxl_de_cap12.edxlde").read_bytes()
    alerts = unwrap_edxl(data)
    assert len(alerts) == 7
    results = [parse(a) for a in alerts]
    assert all(r.ok for r in results), [r.errors for r in results]
    feed = parse_feed(data)
    assert feed.kind == "edxl"
    assert [e.entry_id for e in feed.items] == [r.alert.identifier for r in results if r.alert]


def test_edxl_with_several_alerts_rejected_by_parse(feeds_dir: Path) -> None:
    data = (feeds_dir / "au_bushfire_edxl_de_cap12.edxlde").read_bytes()
    assert "CAP-EDXL-MULTIPLE" in {i.rule for i in parse(data).errors}


def test_not_a_feed(sample_bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(sample_bytes("oasis_cap12_appendixA1_homeland_security_gif_resource.xml"))
    with pytest.raises(FeedError) as caught:
        parse_feed(b'<!DOCTYPE x [<!ENTITY a "b">]><feed/>')
    assert caught.value.issues[0].rule == "XML-DTD-FORBIDDEN"


def test_build_atom_feed(sample_bytes) -> None:
    names = [
        "oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml",
        "oasis_cap12_appendixA4_amber_alert_en_es_same_geocode.xml",
        "usgs_minimal_no_info_block_cap11.xml",
    ]
    alerts = [parse(sample_bytes(n)).alert for n in names]
    items = [
        (a, f"https://alerts.example.org/api/v1/alerts/{i}.xml") for i, a in enumerate(alerts) if a
    ]
    data = build_atom_feed(
        items,
        feed_id="https://alerts.example.org/feeds/alerts.atom",
        title="Active alerts",
        self_url="https://alerts.example.org/feeds/alerts.atom",
    )
    root = etree.fromstring(data)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(ATOM + required) is not None, required
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    for entry in entries:
        for required in ("id", "title", "updated", "author"):
            assert entry.find(ATOM + required) is not None, required
        link = entry.find(f"{ATOM}link")
        assert link is not None
        assert link.get("type") == "application/cap+xml"
    feed = parse_feed(data)
    assert {e.cap_url for e in feed.items} == {url for _, url in items}
    assert feed.items[0].updated == max(a.sent for a, _ in items)
    a2 = next(e for e in entries if e.findtext(f"{ATOM}id", "").endswith("/0.xml"))
    assert a2.findtext("{urn:oasis:names:tc:emergency:cap:1.2}severity") == "Severe"
    assert a2.findtext(f"{ATOM}title") == "SEVERE THUNDERSTORM WARNING"


def test_build_empty_atom_feed() -> None:
    data = build_atom_feed([], feed_id="urn:x", title="none", self_url="http://x/")
    assert parse_feed(data).items == ()


def test_build_feed_from_plain_entries() -> None:
    sent = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    entry = AtomEntry(
        cap_url="https://x.org/api/v1/alerts/7.xml",
        title="Flood warning",
        updated=sent,
        author="County EM",
        expires=sent,
        categories=("Met",),
        severity="Severe",
    )
    data = build_feed([entry], feed_url="https://x.org/feeds/alerts.atom", title="Active")
    feed = parse_feed(data)
    assert feed.feed_id == "https://x.org/feeds/alerts.atom"
    assert [(i.entry_id, i.cap_url, i.title) for i in feed] == [
        (entry.cap_url, entry.cap_url, "Flood warning")
    ]
    root = etree.fromstring(data)
    cap_ns = "{urn:oasis:names:tc:emergency:cap:1.2}"
    assert root.findtext(f"{ATOM}entry/{cap_ns}expires") == "2024-05-01T10:00:00+00:00"
