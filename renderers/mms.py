"""MMS content as the MM7 connector sends it: SMIL presentation, image and text parts."""

from __future__ import annotations

from dataclasses import dataclass


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
