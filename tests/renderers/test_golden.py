"""Golden images for three real alerts, compared perceptually (downscaled grayscale).

The goldens are 160x120 grayscale PNGs of the 640x480 renders (small, and robust to
anti-aliasing and palette noise). To regenerate after an intended visual change:

    ALERTCAST_REGEN_GOLDEN=1 .venv/bin/pytest tests/renderers/test_golden.py

then look at the full-size renders it writes to $TMPDIR/alertcast-golden/ before committing.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderers.maps import render_alert_map

from .conftest import EXPIRES, SENT

GOLDEN = Path(__file__).parent / "golden"
THUMB = (160, 120)
MEAN_TOLERANCE = 4.0  # mean absolute difference, 0-255 grey levels
BLOCK_TOLERANCE = 40.0  # worst 8x8-block mean difference

CASES = {
    "nyc_zone1": (
        "nyc_zone1",
        "nyc_zones",
        "Hurricane Evacuation Order",
        "Extreme",
        "Zone 1",
        "NYC Emergency Management",
    ),
    "palm_beach_zone_b": (
        "palm_beach_zone_b",
        "palm_beach_zones",
        "Hurricane Evacuation Order",
        "Severe",
        "Zone B",
        "Palm Beach County DEM",
    ),
    "circle_10km": (
        "circle_10km",
        None,
        "Hazardous Materials Warning",
        "Severe",
        "10 km",
        "NYC Emergency Management",
    ),
}


def thumbnail(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data)).convert("L").resize(THUMB, Image.Resampling.BOX)
    return np.asarray(image, dtype=float)


def block_means(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    blocks = a[: h - h % 8, : w - w % 8].reshape(h // 8, 8, w // 8, 8)
    return np.asarray(blocks.mean(axis=(1, 3)), dtype=float)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(request, name):
    geom_fx, zones_fx, event, severity, label, sender = CASES[name]
    data, _ = render_alert_map(
        request.getfixturevalue(geom_fx),
        event=event,
        severity=severity,
        headline="Golden image check",
        sent=SENT,
        expires=EXPIRES,
        sender_name=sender,
        area_label=label,
        zones=request.getfixturevalue(zones_fx) if zones_fx else (),
        use_cache=False,
    )
    path = GOLDEN / f"{name}.png"
    actual = thumbnail(data)
    if os.environ.get("ALERTCAST_REGEN_GOLDEN"):
        Image.fromarray(actual.round().astype(np.uint8)).save(path, optimize=True)
        review = Path(tempfile.gettempdir()) / "alertcast-golden"
        review.mkdir(exist_ok=True)
        (review / f"{name}_640.png").write_bytes(data)
    expected = np.asarray(Image.open(path), dtype=float)
    diff = np.abs(actual - expected)
    assert diff.mean() <= MEAN_TOLERANCE, f"{name}: mean grey difference {diff.mean():.2f}"
    assert block_means(diff).max() <= BLOCK_TOLERANCE, f"{name}: a region changed"


def test_golden_detects_a_wrong_map(request):
    """The comparison must fail when the area is drawn in the wrong place."""
    expected = np.asarray(Image.open(GOLDEN / "circle_10km.png"), dtype=float)
    data, _ = render_alert_map(
        request.getfixturevalue("palm_beach_zone_b"),
        event="Hazardous Materials Warning",
        severity="Severe",
        headline="Golden image check",
        sent=SENT,
        expires=EXPIRES,
        sender_name="NYC Emergency Management",
        area_label="10 km",
        use_cache=False,
    )
    diff = np.abs(thumbnail(data) - expected)
    assert diff.mean() > MEAN_TOLERANCE or block_means(diff).max() > BLOCK_TOLERANCE
