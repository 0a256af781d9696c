from lxml import etree

from alerts.cap.model import CapAlert
from alerts.cap.result import Issue

def fast_alert(root: etree._Element) -> tuple[CapAlert, list[Issue]] | None:
    """``(alert, warnings)`` for an XSD-valid CAP 1.2 tree with no rule error, else None."""

def adopt_namespace(root: etree._Element, old: str) -> None:
    """Move every element below ``root`` in namespace ``old`` into ``root``'s namespace."""

def plainly_simple(values: list[float]) -> bool:
    """True when the closed ring ``values`` (lat, lon, lat, lon...) is certainly a valid polygon."""
