"""Fast child access on CAP 1.2 elements.

lxml's ``find``/``findtext`` go through ElementPath (several microseconds per call); one pass
over an element's children into a name -> elements map is ~5x cheaper for CAP's wide
``<alert>``/``<info>`` elements, which matters at thousands of alerts per second. The same pass
keeps the text of the first child of each name: every ``.text`` read builds a new string, and
the rules and the model builder both need them.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from alerts.cap.schema import CAP12_NS
from alerts.cap.values import parse_datetime

Q = f"{{{CAP12_NS}}}"
# Every element name of the CAP 1.2 schema; a dict lookup beats prefix test + slicing.
CAP_ELEMENTS = (
    "identifier",
    "sender",
    "sent",
    "status",
    "msgType",
    "source",
    "scope",
    "restriction",
    "addresses",
    "code",
    "note",
    "references",
    "incidents",
    "info",
    "language",
    "category",
    "event",
    "responseType",
    "urgency",
    "severity",
    "certainty",
    "audience",
    "eventCode",
    "effective",
    "onset",
    "expires",
    "senderName",
    "headline",
    "description",
    "instruction",
    "web",
    "contact",
    "parameter",
    "resource",
    "resourceDesc",
    "mimeType",
    "size",
    "uri",
    "derefUri",
    "digest",
    "area",
    "areaDesc",
    "polygon",
    "circle",
    "geocode",
    "altitude",
    "ceiling",
    "valueName",
    "value",
)
_LOCAL: dict[object, str] = {Q + name: name for name in CAP_ELEMENTS}
Kids = dict[str, list[etree._Element]]
# Text of the first child with each name ('' when empty): read once, shared by rules and model.
Texts = dict[str, str]
_VALUE_NAME, _VALUE = f"{Q}valueName", f"{Q}value"


def children(el: etree._Element) -> tuple[Kids, Texts]:
    """One pass over ``el``'s CAP children: name -> elements in order, name -> first text."""
    out: Kids = {}
    texts: Texts = {}
    local = _LOCAL
    for child in el:
        name = local.get(child.tag)  # comments/PIs have a non-string tag: never found
        if name is None:
            continue
        found = out.get(name)
        if found is None:
            out[name] = [child]
            texts[name] = child.text or ""
        else:
            found.append(child)
    return out, texts


def first(k: Kids, name: str) -> etree._Element | None:
    """The first child called ``name``."""
    found = k.get(name)
    return found[0] if found else None


def texts(k: Kids, name: str) -> tuple[str, ...]:
    """Texts of every child ``name``."""
    return tuple([child.text or "" for child in k.get(name, ())])


def pair(el: etree._Element) -> tuple[str, str]:
    """The ``(valueName, value)`` of an eventCode/parameter/geocode element."""
    name = value = ""
    for child in el:
        tag = child.tag
        if tag == _VALUE_NAME:
            name = child.text or ""
        elif tag == _VALUE:
            value = child.text or ""
    return name, value


class KidsCache:
    """Memoised ``children()`` per element, shared by the rules and the model builder.

    Keys are the lxml proxies themselves; holding them keeps their identity stable. Only the
    elements the rules descend into (alert, info, resource, area) are ever mapped: a tree-wide
    pass would also visit valueName/value leaves and the ``ds:Signature`` subtree for nothing.
    """

    __slots__ = ("_maps", "dates", "polygons")

    def __init__(self) -> None:
        self._maps: dict[etree._Element, tuple[Kids, Texts]] = {}
        # Per-document memo of polygon checks: multilingual alerts repeat each area per <info>.
        self.polygons: dict[str, list[tuple[str, str]]] = {}
        # Per-document memo of parsed dateTimes (the rules parse them, the model reuses them).
        self.dates: dict[str, datetime | None] = {}

    def of(self, el: etree._Element) -> tuple[Kids, Texts]:
        """The child map and first-child texts of ``el``."""
        found = self._maps.get(el)
        if found is None:
            found = self._maps[el] = children(el)
        return found

    def __call__(self, el: etree._Element) -> Kids:
        """The child map of ``el``."""
        return self.of(el)[0]

    def date_of(self, value: str | None) -> datetime | None:
        """``parse_datetime(value)``, parsed once per document."""
        if value is None:
            return None
        dates = self.dates
        if value in dates:
            return dates[value]
        parsed = dates[value] = parse_datetime(value)
        return parsed
