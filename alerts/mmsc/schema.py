"""Validation of MM7 SOAP envelopes against the project's own subset schema (data/mm7)."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from alerts.dispatch.connectors.mm7_read import (
    Mm7ParseError,
    parse_xml,
)
from alerts.dispatch.connectors.mm7_xml import (
    REL6_NS,
)

ENVELOPE_XSD = "soap-envelope-subset.xsd"


def default_schema_dir() -> Path:
    """The repository's data/mm7 folder (where the subset schemas live)."""
    return Path(__file__).resolve().parents[2] / "data" / "mm7"


class Mm7Schema:
    """The SOAP envelope + MM7 subset schema; validates envelopes in any MM7 namespace."""

    def __init__(self, directory: Path | None = None) -> None:
        path = (directory or default_schema_dir()) / ENVELOPE_XSD
        self._schema = etree.XMLSchema(etree.parse(str(path)))

    def errors(self, soap_xml: bytes, namespace: str | None = REL6_NS) -> list[str]:
        """Validation errors of an envelope (empty when valid); maps its namespace to REL-6."""
        data = soap_xml
        if namespace and namespace != REL6_NS:
            data = soap_xml.replace(namespace.encode(), REL6_NS.encode())
        try:
            document = parse_xml(data)
        except Mm7ParseError as exc:
            return [str(exc)]
        if self._schema.validate(document):
            return []
        return str(self._schema.error_log).splitlines()
