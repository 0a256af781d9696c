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
from alerts.cap.result import Issue, IssueSeverity
from alerts.cap.rules_area import check_area
from alerts.cap.tree import Kids, KidsCache, Texts
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
_B64_DELETE = _B64_ALPHABET + _WHITESPACE
_WHITESPACE_STR = _WHITESPACE.decode("ascii")
_CHUNK = 32_768
_TIMES = ("effective", "onset", "expires")


def check_info(kids: KidsCache, info: etree._Element, sent: datetime | None) -> list[Issue]:
    """Rules for one ``<info>`` block and its resources and areas."""
    k, t = kids.of(info)
    issues = _language(k, t)
    issues += _timing(kids, k, t, sent)
    for res in k.get("resource", ()):
        issues += check_resource(*kids.of(res))
    for area in k.get("area", ()):
        issues += check_area(area, kids(area), kids.polygons)
    return issues


def check_datetime(el: etree._Element) -> list[Issue]:
    """A dateTime carries an explicit numeric offset and whole seconds (no ``Z``)."""
    if parse_datetime(el.text) is not None:
        return []
    return datetime_issue(el)


def datetime_issue(el: etree._Element) -> list[Issue]:
    """The ``CAP-DATETIME-OFFSET`` error for a dateTime ``parse_datetime`` refused."""
    msg = (
        f"<{etree.QName(el).localname}> {el.text!r} is not a CAP 1.2 dateTime "
        "(YYYY-MM-DDThh:mm:ss with an explicit offset such as -07:00, no Z)"
    )
    return [issue_at("CAP-DATETIME-OFFSET", msg, el)]


def _language(k: Kids, t: Texts) -> list[Issue]:
    """``<language>`` is an RFC 5646 tag."""
    value = t.get("language")
    if value is None or _LANGTAG.match(value.strip()):
        return []
    el = k["language"][0]
    return [issue_at("CAP-LANGUAGE-TAG", f"{el.text!r} is not an RFC 5646 language tag", el)]


def _timing(kids: KidsCache, k: Kids, t: Texts, sent: datetime | None) -> list[Issue]:
    """Explicit offsets; expires after sent/effective/onset; early effective/onset warned."""
    issues: list[Issue] = []
    times: dict[str, tuple[etree._Element, datetime | None]] = {}
    for name in _TIMES:
        value = t.get(name)
        if value is not None:
            el = k[name][0]
            parsed = kids.date_of(value)
            if parsed is None:
                issues += datetime_issue(el)
            times[name] = (el, parsed)
    if not times:
        return issues
    return issues + _order(times, sent)


def _order(
    times: dict[str, tuple[etree._Element, datetime | None]], sent: datetime | None
) -> list[Issue]:
    """Effective/onset before sent (warnings), expires before any of them (errors)."""
    issues: list[Issue] = []
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


def check_resource(k: Kids, t: Texts | None = None) -> list[Issue]:
    """mimeType form, uri absolute unless derefUri given, derefUri base64, size, digest."""
    if t is None:
        t = {name: els[0].text or "" for name, els in k.items()}
    return [
        issue_at(rule, msg, k[name][0], severity)
        for rule, name, msg, severity in resource_problems(t)
    ]


def resource_problems(t: Texts) -> list[tuple[str, str, str, IssueSeverity]]:
    """``(rule, element, message, severity)`` for a resource's first-child texts ``t``."""
    problems: list[tuple[str, str, str, IssueSeverity]] = []
    mime = t.get("mimeType")
    if mime is not None and not _MIME.match(mime.strip()):
        msg = f"mimeType {mime!r} is not type/subtype (RFC 6838)"
        problems.append(("CAP-MIMETYPE-FORMAT", "mimeType", msg, "error"))
    deref, uri = t.get("derefUri"), t.get("uri")
    if uri is not None and deref is None and not _URI_SCHEME.match(uri.strip()):
        msg = f"uri {uri!r} must be an absolute URI when there is no derefUri"
        problems.append(("CAP-RESOURCE-URI", "uri", msg, "error"))
    if deref is not None and not is_base64(deref):
        problems.append(("CAP-DEREFURI-BASE64", "derefUri", "derefUri is not base64 data", "error"))
    size = t.get("size")
    if size is not None and not size.strip().lstrip("+").isdigit():
        problems.append(("CAP-RESOURCE-SIZE", "size", f"size {size!r} is not >= 0", "error"))
    digest = t.get("digest")
    if digest is not None and not _SHA1_HEX.match(digest.strip()):
        msg = f"digest {digest!r} is not a SHA-1 hex digest"
        problems.append(("CAP-RESOURCE-DIGEST", "digest", msg, "warning"))
    return problems


def is_base64(value: str) -> bool:
    """True when ``value`` (whitespace ignored) is non-empty base64 (RFC 4648 §4 alphabet).

    Checked by shape (alphabet, at most two trailing ``=``) without decoding: derefUri
    payloads reach hundreds of kilobytes, so the text is checked in cache-sized chunks (one
    ``translate`` each; a single copy of the whole payload costs more in page faults than the
    scan itself) and the padding is read off the end instead of stripped off a copy.
    Truncation that keeps the shape (a length not a multiple of 4) is left to the consumer
    that decodes the payload.
    """
    if not value.isascii():
        return False
    body = value.rstrip(_WHITESPACE_STR)  # the same object when there is nothing to strip
    padding = 3 if body.endswith("===") else 2 if body.endswith("==") else int(body[-1:] == "=")
    if padding > 2 or len(body) == padding:
        return False
    # Whatever the alphabet and whitespace leave over must be exactly the trailing padding.
    left = b""
    for start in range(0, len(value), _CHUNK):
        left += value[start : start + _CHUNK].encode("ascii").translate(None, _B64_DELETE)
        if len(left) > padding:
            return False
    return left == b"=" * padding
