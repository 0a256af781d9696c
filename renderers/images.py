"""Untrusted images (CAP <resource>): safety checks and resizing into an MMS byte budget."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_INPUT_BYTES = 5_000_000
MAX_PIXELS = 25_000_000
MAX_SIDE = 10_000

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png"),
    (b"GIF87a", "GIF", "image/gif"),
    (b"GIF89a", "GIF", "image/gif"),
)


class UnsafeImageError(ValueError):
    """An image that must not be forwarded; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """An image that passed the checks: its media type and pixel size."""

    media_type: str
    size: tuple[int, int]


def _sniff(data: bytes) -> tuple[str, str]:
    for magic, fmt, media_type in _MAGIC:
        if data.startswith(magic):
            return fmt, media_type
    raise UnsafeImageError("not a JPEG, PNG or GIF image (magic bytes)")


def check_image(data: bytes, *, max_bytes: int = MAX_INPUT_BYTES) -> CheckedImage:
    """Accept only a small, fully decodable JPEG/PNG/GIF whose header matches its content."""
    if not data:
        raise UnsafeImageError("empty resource")
    if len(data) > max_bytes:
        raise UnsafeImageError(f"too large: {len(data)} bytes > {max_bytes}")
    fmt, media_type = _sniff(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
            w, h = im.size
            if w <= 0 or h <= 0 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise UnsafeImageError(f"unreasonable dimensions {w}x{h}")
            im.load()
    except UnsafeImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnsafeImageError(f"unreasonable dimensions (decompression bomb): {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnsafeImageError(f"does not decode as {fmt}: {exc}") from exc
    return CheckedImage(media_type, (w, h))


def fit_photo(data: bytes, max_bytes: int, max_size: tuple[int, int] = (640, 480)) -> bytes:
    """A checked image re-encoded as JPEG (metadata dropped) within `max_size` and `max_bytes`."""
    check_image(data)
    im = Image.open(io.BytesIO(data))
    im.load()
    rgb = im.convert("RGB")
    box = max_size
    while box[0] >= 64:
        scaled = rgb.copy()
        scaled.thumbnail(box, Image.Resampling.LANCZOS)
        for quality in (85, 75, 60, 45):
            buf = io.BytesIO()
            scaled.save(buf, format="JPEG", quality=quality)
            if buf.tell() <= max_bytes:
                return bytes(buf.getvalue())
        box = (box[0] * 3 // 4, box[1] * 3 // 4)
    raise UnsafeImageError(f"cannot fit the image into {max_bytes} bytes")
