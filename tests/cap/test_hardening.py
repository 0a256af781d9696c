"""Hostile XML: entity expansion, XXE, external DTD, XInclude, size, malformed input.

Each attack points at a resource we control (a FIFO, a marker file, a listening socket) so the
test proves nothing was opened or fetched, not just that the result looks clean.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from alerts.cap import parse
from tests.cap.factories import cap_xml

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>
"""


def _with_doctype(doctype: str, body_entity: str = "") -> bytes:
    """A valid synthetic alert with a DOCTYPE spliced in and an entity used in the headline."""
    doc = cap_xml().decode()
    doc = doc.replace("<alert ", f"{doctype}\n<alert ", 1)
    return doc.replace("Test headline", f"Test headline{body_entity}").encode()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    """A named pipe: opening it for reading blocks until a writer comes, which never does."""
    path = tmp_path / "trap.fifo"
    os.mkfifo(path)
    return path


def _parse_must_not_block(data: bytes) -> list[str]:
    """Parse in a thread; a blocked thread means the parser opened the FIFO."""
    rules: list[str] = []
    worker = threading.Thread(target=lambda: rules.extend(i.rule for i in parse(data).issues))
    worker.daemon = True
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "parser tried to open the external resource"
    return rules


def test_billion_laughs_rejected_without_expansion() -> None:
    result = parse(BILLION_LAUGHS)
    assert [i.rule for i in result.errors] == ["XML-DTD-FORBIDDEN"]
    assert result.errors[0].line == 2
    assert result.alert is None


def test_external_entity_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("MARKER-7f3a9")
    data = _with_doctype(f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>', "&xxe;")
    result = parse(data)
    assert "XML-DTD-FORBIDDEN" in {i.rule for i in result.errors}
    assert "MARKER-7f3a9" not in repr(result)


def test_external_entity_fifo_never_opened(fifo: Path) -> None:
    data = _with_doctype(f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{fifo.as_uri()}">]>', "&xxe;")
    assert "XML-DTD-FORBIDDEN" in _parse_must_not_block(data)


def test_parameter_entity_fifo_never_opened(fifo: Path) -> None:
    doctype = f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{fifo.as_uri()}"> %p;]>'
    assert "XML-DTD-FORBIDDEN" in _parse_must_not_block(_with_doctype(doctype))


def test_external_dtd_fifo_never_opened(fifo: Path) -> None:
    doctype = f'<!DOCTYPE alert SYSTEM "{fifo.as_uri()}">'
    assert "XML-DTD-FORBIDDEN" in _parse_must_not_block(_with_doctype(doctype))


def test_xinclude_not_processed(fifo: Path) -> None:
    xinclude = f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{fifo.as_uri()}"/>'
    data = cap_xml(alert_extra=xinclude)
    assert "XML-XINCLUDE-FORBIDDEN" in _parse_must_not_block(data)


def test_no_network_access() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        for doctype in (
            f'<!DOCTYPE alert SYSTEM "{url}">',
            f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{url}">]>',
        ):
            result = parse(_with_doctype(doctype, "&xxe;" if "ENTITY" in doctype else ""))
            assert not result.ok
        schema_location = (
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 {url}"'
        )
        assert parse(cap_xml().replace(b"<alert ", f"<alert {schema_location} ".encode())).ok
        with pytest.raises(BlockingIOError):
            server.accept()


def test_shared_hostile_sample_reports_line(sample_bytes) -> None:
    result = parse(sample_bytes("invalid_xinclude_external_entity_attack.xml"))
    assert [(i.rule, i.line) for i in result.errors] == [("XML-DTD-FORBIDDEN", 3)]


def test_utf16_doctype_rejected() -> None:
    doc = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    assert parse(doc.encode("utf-16")).errors[0].rule == "XML-DTD-FORBIDDEN"


def test_doctype_text_inside_cdata_is_not_a_declaration() -> None:
    data = cap_xml().replace(
        b"<headline>Test headline</headline>",
        b"<headline>Test headline</headline><description><![CDATA[<!DOCTYPE html><p>x</p>]]>"
        b"</description>",
    )
    result = parse(data)
    assert result.ok, result.errors
    assert result.alert is not None
    assert result.alert.infos[0].description == "<!DOCTYPE html><p>x</p>"


def test_size_limit_is_configurable() -> None:
    data = cap_xml()
    assert parse(data).ok
    result = parse(data, max_bytes=len(data) - 1)
    assert [i.rule for i in result.errors] == ["SIZE-LIMIT"]
    assert parse(data, max_bytes=len(data)).ok


@pytest.mark.parametrize(
    "data", [b"", b"not xml", b"<alert", b"\xff\xfe\x00", b"<a></b>", b"<?xml version='1.0'?>"]
)
def test_malformed_input(data: bytes) -> None:
    result = parse(data)
    assert not result.ok
    assert result.errors[0].rule == "XML-MALFORMED"
