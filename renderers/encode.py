"""Image encoding within a byte budget: palette PNG or JPEG, the smaller at a quality tier."""

from __future__ import annotations

import io

from PIL import Image

# Quality tiers, best first: (palette colours, JPEG quality). A tier is acceptable when either
# encoding fits; within a tier the smaller one wins.
TIERS: tuple[tuple[int, int], ...] = ((256, 88), (128, 80), (64, 70), (32, 55), (16, 40))


class ByteBudgetError(ValueError):
    """No acceptable encoding fits the byte budget."""


def encode_png(image: Image.Image, colours: int) -> bytes:
    """A palette PNG with at most `colours` colours (no dithering: flat map colours stay flat)."""
    pal = image.convert("RGB").quantize(
        colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    buf = io.BytesIO()
    pal.save(buf, format="PNG", compress_level=7)
    return buf.getvalue()


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """A baseline JPEG at the given quality (4:4:4 above 75 so thin red outlines stay crisp)."""
    buf = io.BytesIO()
    subsampling = 0 if quality > 75 else 2
    image.convert("RGB").save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    return buf.getvalue()


def encode_within(image: Image.Image, max_bytes: int) -> tuple[bytes, str]:
    """The best-quality encoding of `image` that fits `max_bytes`, with its media type."""
    for colours, quality in TIERS:
        candidates = [(encode_png(image, colours), "image/png")]
        # A palette PNG well inside the budget is kept as is: flat map colours compress well and
        # stay free of JPEG ringing around text; only a tight budget pays for a JPEG attempt.
        if len(candidates[0][0]) > max_bytes // 2:
            candidates.append((encode_jpeg(image, quality), "image/jpeg"))
        fitting = [c for c in candidates if len(c[0]) <= max_bytes]
        if fitting:
            return min(fitting, key=lambda c: len(c[0]))
    raise ByteBudgetError(f"no encoding of a {image.size} image fits {max_bytes} bytes")
