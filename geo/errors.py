"""The geo package's exception tree.

GeoError (ValueError)
+-- AreaError            malformed CAP area text or an area that cannot be resolved (.rule)
|   +-- UnknownGeocodeError   a geocode that no loaded zone data covers (.value_name, .value)
+-- ZoneDataError        a zone file that cannot be loaded (bad JSON, fields, geometry, CRS)
+-- UnknownZoneError          a zone set or zone id that is not registered
"""

from __future__ import annotations


class GeoError(ValueError):
    """Root of every error raised by the geo package."""

    rule = "geo"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AreaError(GeoError):
    """A CAP area (polygon, circle, geocode) is malformed or cannot be resolved."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class UnknownGeocodeError(AreaError):
    """A geocode (valueName, value) that no loaded zone data resolves."""

    def __init__(self, value_name: str, value: str, why: str) -> None:
        super().__init__("geocode-unknown", f"unknown geocode {value_name}={value!r}: {why}")
        self.value_name = value_name
        self.value = value


class ZoneDataError(GeoError):
    """A zone file or manifest that cannot be loaded."""

    rule = "zone-data"


class UnknownZoneError(GeoError, KeyError):
    """A zone set name or zone id that is not registered."""

    rule = "zone-unknown"

    def __str__(self) -> str:
        return self.message


class IndexInputError(GeoError):
    """Malformed subscriber index input (mismatched lengths, non-finite or out-of-range lon/lat)."""

    rule = "index-input"
