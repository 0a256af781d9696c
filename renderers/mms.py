"""MMS content as the MM7 connector sends it: SMIL presentation, image and text parts.

`MmsPart` / `MmsContent` are the plain structure the connector serialises; `build_mms` fills it
for an OMA content class (Image Rich 100 KB, Image Basic 30 KB), shrinking the map when needed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds, never parses: no untrusted XML here
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from renderers.encode import ByteBudgetError
from renderers.images import fit_photo


@dataclass(frozen=True, slots=True)
class MmsPart:
    """One body part of an MMS: media type, Content-ID (no angle brackets) and bytes."""

    content_type: str
    content_id: str
    data: bytes
    location: str | None = None


@dataclass(frozen=True, slots=True)
class MmsContent:
    """A whole MMS body: the SMIL part first, then the media parts it references."""

    parts: tuple[MmsPart, ...]

    @property
    def size(self) -> int:
        """Total bytes of all parts."""
        return sum(len(p.data) for p in self.parts)

    @property
    def start(self) -> MmsPart:
        """The SMIL presentation part (the multipart/related start)."""
        return self.parts[0]


@dataclass(frozen=True, slots=True)
class ContentClass:
    """An OMA MMS content class: the total byte budget and the largest map size it carries."""

    name: str
    max_bytes: int
    map_sizes: tuple[tuple[int, int], ...]  # largest first; the builder falls back down the list


IMAGE_RICH = ContentClass("image-rich", 100_000, ((640, 480), (480, 360), (320, 240), (160, 120)))
IMAGE_BASIC = ContentClass("image-basic", 30_000, ((160, 120),))
CONTENT_CLASSES = {c.name: c for c in (IMAGE_RICH, IMAGE_BASIC)}

SMIL_TYPE = "application/smil"
TEXT_TYPE = "text/plain; charset=utf-8"
SMIL_RESERVE = 1_500  # bytes kept for the SMIL part while sizing the media parts
PHOTO_SHARE = 0.35  # of the media budget, for all resource photos together

MapRenderer = Callable[[tuple[int, int], int], tuple[bytes, str]]


class MmsBudgetError(ValueError):
    """The message cannot be made to fit its content class."""


@dataclass(frozen=True, slots=True)
class PhotoSlide:
    """A resource image for its own slide, with a caption (e.g. a missing person's photo)."""

    image: bytes
    caption: str


_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}


def smil_document(
    slides: Sequence[tuple[str, str]], *, width: int, height: int, duration_ms: int = 10_000
) -> bytes:
    """SMIL 2.0 in the OMA MMS subset: per slide an image region above a text region."""
    smil = ET.Element("smil", xmlns="http://www.w3.org/2001/SMIL20/Language")
    layout = ET.SubElement(ET.SubElement(smil, "head"), "layout")
    ET.SubElement(layout, "root-layout", width=str(width), height=str(height + height // 2))
    ET.SubElement(
        layout, "region", id="Image", top="0", left="0", width="100%", height="67%", fit="meet"
    )
    ET.SubElement(
        layout, "region", id="Text", top="67%", left="0", width="100%", height="33%", fit="scroll"
    )
    body = ET.SubElement(smil, "body")
    for image_cid, text_cid in slides:
        par = ET.SubElement(body, "par", dur=f"{duration_ms}ms")
        ET.SubElement(par, "img", src=f"cid:{image_cid}", region="Image")
        ET.SubElement(par, "text", src=f"cid:{text_cid}", region="Text")
    return bytes(ET.tostring(smil, encoding="utf-8", xml_declaration=True))


def _photo_parts(photos: Sequence[PhotoSlide], budget: int) -> list[MmsPart]:
    parts: list[MmsPart] = []
    each = budget // max(1, len(photos))
    for i, photo in enumerate(photos, start=1):
        caption = photo.caption.encode("utf-8")
        jpeg = fit_photo(photo.image, each - len(caption))
        parts.append(MmsPart("image/jpeg", f"photo{i}", jpeg, f"photo{i}.jpg"))
        parts.append(MmsPart(TEXT_TYPE, f"caption{i}", caption, f"caption{i}.txt"))
    return parts


def _map_part(
    render: MapRenderer, sizes: Sequence[tuple[int, int]], budget: int
) -> tuple[MmsPart, tuple[int, int]]:
    for size in sizes:
        try:
            data, media_type = render(size, budget)
        except ByteBudgetError:
            continue
        if len(data) <= budget:
            ext = _EXT.get(media_type, "bin")
            return MmsPart(media_type, "map", data, f"map.{ext}"), size
    raise MmsBudgetError(f"no map size fits {budget} bytes")


def build_mms(
    *,
    text: str,
    render_map: MapRenderer,
    content_class: ContentClass = IMAGE_RICH,
    photos: Sequence[PhotoSlide] = (),
    duration_ms: int = 10_000,
) -> MmsContent:
    """The MMS body: SMIL, map image, UTF-8 text, then photo slides, within the content class.

    `render_map(size, max_bytes)` returns (bytes, media type), e.g. a partial of
    `renderers.maps.render_alert_map`; smaller map sizes are tried when a size does not fit.
    Photos are checked and resized (`renderers.images`); an unsafe one raises UnsafeImageError.
    """
    text_part = MmsPart(TEXT_TYPE, "text", text.encode("utf-8"), "text.txt")
    media_budget = content_class.max_bytes - SMIL_RESERVE - len(text_part.data)
    photo_parts = _photo_parts(photos, int(media_budget * PHOTO_SHARE)) if photos else []
    map_budget = media_budget - sum(len(p.data) for p in photo_parts)
    if map_budget <= 0:
        raise MmsBudgetError("the text alone exceeds the content class")
    map_part, size = _map_part(render_map, content_class.map_sizes, map_budget)
    slides = [("map", "text")] + [(f"photo{i}", f"caption{i}") for i in range(1, len(photos) + 1)]
    smil = smil_document(slides, width=size[0], height=size[1], duration_ms=duration_ms)
    content = MmsContent(
        (MmsPart(SMIL_TYPE, "smil", smil, "alert.smil"), map_part, text_part, *photo_parts)
    )
    if content.size > content_class.max_bytes:
        raise MmsBudgetError(f"{content.size} bytes exceed {content_class.name}")
    return content
