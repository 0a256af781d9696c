"""Semantic rules on ``<info>`` and ``<resource>``: language, timing, mimeType, uri, derefUri.

Timing policy: ``expires`` before ``sent`` (or before ``effective``/``onset``) is an error, the
alert would be dead on arrival or self-contradictory; ``effective``/``onset`` before ``sent``
are warnings, because real events legitimately start before the message (an earthquake's onset
is the shaking, the alert follows it). Every dateTime must carry an explicit numeric offset;
for CAP 1.2 the XSD pattern already rejects ``Z`` (``XSD-INVALID``), ``CAP-DATETIME-OFFSET``
names the problem in CAP terms (CAP 1.1 ``Z`` is rewritten by ``upgrade`` with a warning).
"""

from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.rules_area import check_area
from alerts.cap.tree import Kids, KidsCache, first
from alerts.cap.values import parse_datetime

# RFC 5646 section 2.1 "langtag" shape (plus private-use and i- grandfathered tags).
_LANGTAG = re.compile(
    r"(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"
    r"(?:-[\da-wyz](?:-[a-z\d]{2,8})+)*(?:-x(?:-[a-z\d]{1,8})+)?"
    r"|x(?:-[a-z\d]{1,8})+|i-[a-z]{2,8})\Z",
    re.IGNORECASE,
)
# RFC 6838 section 4.2 restricted names, optional parameters.
_MIME = re.compile(
    r"[a-z\d][\w!#$&^.+-]{0,126}/[a-z\d][\w!#$&^.+-]{0,126}(?:\s*;.*)?\Z", re.I | re.S
)
_URI_SCHEME = re.compile(r"[a-z][a-z\d+.-]*:", re.IGNORECASE)
_SHA1_HEX = re.compile(r"[\da-f]{40}\Z", re.IGNORECASE)
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_WHITESPACE = b" \t\r\n"


def check_info(kids: KidsCache, info: etree._Element, sent: datetime | None) -> list[Issue]:
    """Rules for one ``<info>`` block and its resources and areas."""
    k = kids(info)
    issues = _language(k)
    issues += _timing(k, sent)
    for res in k.get("resource", ()):
        issues += check_resource(kids(res))
    for area in k.get("area", ()):
        issues += check_area(area, kids(area), kids.polygons)
    return issues


def check_datetime(el: etree._Element) -> list[Issue]:
    """A dateTime carries an explicit numeric offset and whole seconds (no ``Z``)."""
    if parse_datetime(el.text) is not None:
        return []
    msg = (
        f"<{etree.QName(el).localname}> {el.text!r} is not a CAP 1.2 dateTime "
        "(YYYY-MM-DDThh:mm:ss with an explicit offset such as -07:00, no Z)"
    )
    return [issue_at("CAP-DATETIME-OFFSET", msg, el)]


def _language(k: Kids) -> list[Issue]:
    """``<language>`` is an RFC 5646 tag."""
    el = first(k, "language")
    if el is None or _LANGTAG.match((el.text or "").strip()):
        return []
    return [issue_at("CAP-LANGUAGE-TAG", f"{el.text!r} is not an RFC 5646 language tag", el)]


def _timing(k: Kids, sent: datetime | None) -> list[Issue]:
    """Explicit offsets; expires after sent/effective/onset; early effective/onset warned."""
    issues: list[Issue] = []
    times: dict[str, tuple[etree._Element, datetime | None]] = {}
    for name in ("effective", "onset", "expires"):
        el = first(k, name)
        if el is not None:
            issues += check_datetime(el)
            times[name] = (el, parse_datetime(el.text))
    expires_el, expires = times.get("expires", (None, None))
    for name in ("effective", "onset"):
        el, value = times.get(name, (None, None))
        if el is None or value is None:
            continue
        if sent is not None and value < sent:
            msg = f"<{name}> {el.text} is before <sent>"
            issues.append(issue_at(f"CAP-{name.upper()}-BEFORE-SENT", msg, el, "warning"))
        if expires is not None and expires_el is not None and expires < value:
            msg = f"<expires> {expires_el.text} is before <{name}> {el.text}"
            issues.append(issue_at(f"CAP-EXPIRES-BEFORE-{name.upper()}", msg, expires_el))
    if expires is not None and expires_el is not None and sent is not None and expires < sent:
        msg = f"<expires> {expires_el.text} is before <sent>: the alert is dead on arrival"
        issues.append(issue_at("CAP-EXPIRES-BEFORE-SENT", msg, expires_el))
    return issues


def check_resource(k: Kids) -> list[Issue]:
    """mimeType form, uri absolute unless derefUri given, derefUri base64, size, digest."""
    issues: list[Issue] = []
    mime = first(k, "mimeType")
    if mime is not None and not _MIME.match((mime.text or "").strip()):
        msg = f"mimeType {mime.text!r} is not type/subtype (RFC 6838)"
        issues.append(issue_at("CAP-MIMETYPE-FORMAT", msg, mime))
    deref, uri = first(k, "derefUri"), first(k, "uri")
    if uri is not None and deref is None and not _URI_SCHEME.match((uri.text or "").strip()):
        msg = f"uri {uri.text!r} must be an absolute URI when there is no derefUri"
        issues.append(issue_at("CAP-RESOURCE-URI", msg, uri))
    if deref is not None and not is_base64(deref.text or ""):
        issues.append(issue_at("CAP-DEREFURI-BASE64", "derefUri is not base64 data", deref))
    size = first(k, "size")
    if size is not None and not (size.text or "").strip().lstrip("+").isdigit():
        issues.append(issue_at("CAP-RESOURCE-SIZE", f"size {size.text!r} is not >= 0", size))
    digest = first(k, "digest")
    if digest is not None and not _SHA1_HEX.match((digest.text or "").strip()):
        msg = f"digest {digest.text!r} is not a SHA-1 hex digest"
        issues.append(issue_at("CAP-RESOURCE-DIGEST", msg, digest, "warning"))
    return issues


def is_base64(value: str) -> bool:
    """True when ``value`` (whitespace ignored) is non-empty base64 (RFC 4648 §4 alphabet).

    Checked by shape (alphabet, at most two trailing ``=``) in one ``translate`` pass without
    decoding: derefUri payloads reach hundreds of kilobytes. Truncation that keeps the shape
    (a length not a multiple of 4) is left to the consumer that decodes the payload.
    """
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        return False
    body = data.rstrip(_WHITESPACE)
    unpadded = body.rstrip(b"=")
    if not unpadded or len(body) - len(unpadded) > 2:
        return False
    return not unpadded.translate(None, _B64_ALPHABET + _WHITESPACE)
