"""Semantic rules on ``<info>`` and ``<resource>``: language, timing, mimeType, uri, derefUri.

Timing policy: ``expires`` before ``sent`` (or before ``effective``/``onset``) is an error, the
alert would be dead on arrival or self-contradictory; ``effective``/``onset`` before ``sent``
are warnings, because real events legitimately start before the message (an earthquake's onset
is the shaking, the alert follows it).
"""

from __future__ import annotations

import binascii
import re
from datetime import datetime

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.rules_area import check_area
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import parse_datetime

Q = f"{{{CAP12_NS}}}"
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


def check_info(info: etree._Element, sent: datetime | None) -> list[Issue]:
    """Rules for one ``<info>`` block and its resources and areas."""
    issues = _language(info)
    issues += _timing(info, sent)
    for res in info.iterfind(f"{Q}resource"):
        issues += check_resource(res)
    for area in info.iterfind(f"{Q}area"):
        issues += check_area(area)
    return issues


def _language(info: etree._Element) -> list[Issue]:
    """``<language>`` is an RFC 5646 tag."""
    el = info.find(f"{Q}language")
    if el is None or _LANGTAG.match((el.text or "").strip()):
        return []
    return [issue_at("CAP-LANGUAGE-TAG", f"{el.text!r} is not an RFC 5646 language tag", el)]


def _timing(info: etree._Element, sent: datetime | None) -> list[Issue]:
    """Expires after sent/effective/onset; effective and onset before sent only warned."""
    times = {n: (info.find(Q + n), parse_datetime(info.findtext(Q + n))) for n in _TIMES}
    issues: list[Issue] = []
    expires_el, expires = times["expires"]
    for name in ("effective", "onset"):
        el, value = times[name]
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


_TIMES = ("effective", "onset", "expires")


def check_resource(res: etree._Element) -> list[Issue]:
    """mimeType form, uri absolute unless derefUri given, derefUri base64, size >= 0."""
    issues: list[Issue] = []
    mime = res.find(f"{Q}mimeType")
    if mime is not None and not _MIME.match((mime.text or "").strip()):
        msg = f"mimeType {mime.text!r} is not type/subtype (RFC 6838)"
        issues.append(issue_at("CAP-MIMETYPE-FORMAT", msg, mime))
    deref = res.find(f"{Q}derefUri")
    uri = res.find(f"{Q}uri")
    if uri is not None and deref is None and not _URI_SCHEME.match((uri.text or "").strip()):
        msg = f"uri {uri.text!r} must be an absolute URI when there is no derefUri"
        issues.append(issue_at("CAP-RESOURCE-URI", msg, uri))
    if deref is not None and not _is_base64(deref.text or ""):
        issues.append(issue_at("CAP-DEREFURI-BASE64", "derefUri is not base64 data", deref))
    size = res.find(f"{Q}size")
    if size is not None and not (size.text or "").strip().lstrip("+").isdigit():
        issues.append(issue_at("CAP-RESOURCE-SIZE", f"size {size.text!r} is not >= 0", size))
    digest = res.find(f"{Q}digest")
    if digest is not None and not _SHA1_HEX.match((digest.text or "").strip()):
        msg = f"digest {digest.text!r} is not a SHA-1 hex digest"
        issues.append(issue_at("CAP-RESOURCE-DIGEST", msg, digest, "warning"))
    return issues


def _is_base64(text: str) -> bool:
    """True when ``text`` (whitespace ignored) is non-empty strict base64."""
    compact = "".join(text.split())
    if not compact:
        return False
    try:
        binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError):
        return False
    return True
