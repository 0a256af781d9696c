"""MMS content: SMIL well-formed with matching content-ids, class budgets, fallbacks, photos."""

from __future__ import annotations

import io
from functools import partial

import numpy as np
import pytest
from lxml import etree
from PIL import Image

from renderers.encode import ByteBudgetError
from renderers.images import UnsafeImageError, check_image, fit_photo
from renderers.maps import render_alert_map
from renderers.mms import (
    IMAGE_BASIC,
    IMAGE_RICH,
    SMIL_TYPE,
    TEXT_TYPE,
    MmsBudgetError,
    MmsContent,
    PhotoSlide,
    build_mms,
)

SMIL_NS = "{http://www.w3.org/2001/SMIL20/Language}"
TEXT = "Hurricane Evacuation Order in NYC Zone 1 until 11:00 PM EDT. Evacuate now. — NYCEM " * 3


@pytest.fixture(scope="module")
def render_zone1(nyc_zone1, nyc_zones):
    return partial(_render, nyc_zone1, nyc_zones)


def _render(geom, zones, size, max_bytes):
    return render_alert_map(
        geom,
        event="Hurricane Evacuation Order",
        severity="Extreme",
        headline="Evacuate Zone 1",
        size=size,
        max_bytes=max_bytes,
        area_label="Zone 1",
        zones=zones,
    )


def photo_bytes(size=(1600, 1200), fmt="JPEG") -> bytes:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    arr = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(float)
    arr += rng.normal(0, 20, arr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def check_structure(content: MmsContent) -> etree._Element:
    assert content.start.content_type == SMIL_TYPE
    root = etree.fromstring(content.start.data)
    assert root.tag == f"{SMIL_NS}smil"
    regions = {r.get("id") for r in root.iter(f"{SMIL_NS}region")}
    assert regions == {"Image", "Text"}
    refs = [str(el.get("src")) for el in root.iter(f"{SMIL_NS}img", f"{SMIL_NS}text")]
    cids = [p.content_id for p in content.parts[1:]]
    assert sorted(r.removeprefix("cid:") for r in refs) == sorted(cids)
    assert len(set(cids)) == len(cids)
    image_region = next(r for r in root.iter(f"{SMIL_NS}region") if r.get("id") == "Image")
    assert image_region.get("top") == "0"
    return root


def test_image_rich_map_and_text(render_zone1):
    content = build_mms(text=TEXT, render_map=render_zone1)
    root = check_structure(content)
    assert content.size <= IMAGE_RICH.max_bytes
    assert len(root.findall(f".//{SMIL_NS}par")) == 1
    map_part, text_part = content.parts[1], content.parts[2]
    assert Image.open(io.BytesIO(map_part.data)).size == (640, 480)
    assert text_part.content_type == TEXT_TYPE
    assert text_part.data.decode("utf-8") == TEXT


def test_image_basic_uses_small_map(render_zone1):
    content = build_mms(text=TEXT, render_map=render_zone1, content_class=IMAGE_BASIC)
    check_structure(content)
    assert content.size <= IMAGE_BASIC.max_bytes
    assert Image.open(io.BytesIO(content.parts[1].data)).size == (160, 120)


def test_falls_back_to_a_smaller_map(render_zone1):
    asked = []

    def tight(size, max_bytes):
        asked.append(size)
        if size[0] > 320:
            raise ByteBudgetError("too big")
        return render_zone1(size, max_bytes)

    content = build_mms(text=TEXT, render_map=tight)
    assert asked[:3] == [(640, 480), (480, 360), (320, 240)]
    assert Image.open(io.BytesIO(content.parts[1].data)).size == (320, 240)
    root = check_structure(content)
    layout = root.find(f".//{SMIL_NS}root-layout")
    assert layout is not None
    assert layout.get("width") == "320"


def test_map_renderer_gets_the_remaining_budget(render_zone1):
    budgets = []

    def spy(size, max_bytes):
        budgets.append(max_bytes)
        return render_zone1(size, max_bytes)

    build_mms(text=TEXT, render_map=spy)
    assert budgets[0] < IMAGE_RICH.max_bytes - len(TEXT.encode())


def test_nothing_fits_raises(render_zone1):
    with pytest.raises(MmsBudgetError):
        build_mms(text="x" * 29_000, render_map=render_zone1, content_class=IMAGE_BASIC)


def test_photo_slide_resized_into_budget(render_zone1):
    photo = photo_bytes()
    assert len(photo) > IMAGE_RICH.max_bytes
    content = build_mms(
        text=TEXT,
        render_map=render_zone1,
        photos=[PhotoSlide(photo, "Missing: Ana R., 8, last seen in Coney Island")],
    )
    root = check_structure(content)
    assert content.size <= IMAGE_RICH.max_bytes
    assert len(root.findall(f".//{SMIL_NS}par")) == 2
    by_cid = {p.content_id: p for p in content.parts}
    assert by_cid["photo1"].content_type == "image/jpeg"
    assert Image.open(io.BytesIO(by_cid["photo1"].data)).size[0] <= 640
    assert by_cid["caption1"].data.decode().startswith("Missing: Ana")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "magic"),
        (b"<html><script>alert(1)</script></html>", "magic"),
        (b"MZ\x90\x00" + b"\x00" * 100, "magic"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "decode"),
        (b"GIF89a" + b"\xff" * 20, "decode"),
    ],
)
def test_unsafe_resources_refused_with_reason(data, reason):
    with pytest.raises(UnsafeImageError) as err:
        check_image(data)
    assert reason in err.value.reason


def test_mislabelled_image_refused():
    png = photo_bytes((64, 48), "PNG")
    with pytest.raises(UnsafeImageError, match="decode"):
        check_image(b"\xff\xd8\xff" + png[3:])


def test_decompression_bomb_refused():
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
    with pytest.raises(UnsafeImageError, match="dimensions"):
        check_image(bomb.getvalue())


def test_truncated_jpeg_refused():
    with pytest.raises(UnsafeImageError, match="decode"):
        check_image(photo_bytes((400, 300))[:2_000])


def test_unsafe_photo_stops_the_build(render_zone1):
    with pytest.raises(UnsafeImageError):
        build_mms(text=TEXT, render_map=render_zone1, photos=[PhotoSlide(b"<svg/>", "x")])


def test_fit_photo_strips_to_jpeg_within_budget():
    out = fit_photo(photo_bytes((800, 600), "PNG"), 20_000)
    assert len(out) <= 20_000
    assert check_image(out).media_type == "image/jpeg"
