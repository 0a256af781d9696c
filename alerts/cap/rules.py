"""Semantic CAP 1.2 rules on the alert segment (beyond the XSD), each with a stable code.

Severity policy: anything that could send the wrong message, to the wrong people, or make an
Update/Cancel unresolvable is an ``error``; oddities that real agencies send and that do not
change who is alerted or when (an empty optional element, an onset before ``sent``) are
``warning``. Rules run on the CAP 1.2 element tree (after ``upgrade``), so they see lines.

Codes: ``CAP-IDENTIFIER-CHARS``, ``CAP-SENDER-CHARS``, ``CAP-DATETIME-OFFSET``,
``CAP-REFERENCES-FORMAT``, ``CAP-REFERENCES-SELF``, ``CAP-REFERENCES-REQUIRED``,
``CAP-RESTRICTION-SCOPE``, ``CAP-RESTRICTION-REQUIRED``, ``CAP-ADDRESSES-REQUIRED``,
``CAP-EMPTY-ELEMENT``, ``CAP-INFO-MISSING``; info and area rules live in ``rules_info``.
"""

from __future__ import annotations

import re

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.rules_info import check_info
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import parse_datetime, parse_reference

Q = f"{{{CAP12_NS}}}"
# CAP 1.2 section 3.2.1: no spaces, commas or restricted characters (< and &).
_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_DATETIME_TAGS = (f"{Q}sent", f"{Q}effective", f"{Q}onset", f"{Q}expires")
_NEEDS_REFERENCES = frozenset({"Update", "Cancel", "Ack", "Error"})
_OPTIONAL_TEXT = ("source", "restriction", "addresses", "note", "incidents")


def check_alert(root: etree._Element) -> list[Issue]:
    """Run every semantic rule over a CAP 1.2 ``<alert>`` tree."""
    issues = _id_chars(root, "identifier", "CAP-IDENTIFIER-CHARS")
    issues += _id_chars(root, "sender", "CAP-SENDER-CHARS")
    issues += _datetime_offsets(root)
    issues += _references(root)
    issues += _scope(root)
    issues += _empty_optionals(root)
    sent = parse_datetime(root.findtext(f"{Q}sent"))
    infos = root.findall(f"{Q}info")
    if not infos and root.findtext(f"{Q}msgType") in ("Alert", "Update"):
        msg = "Alert/Update without <info>: recipients get nothing to read"
        issues.append(issue_at("CAP-INFO-MISSING", msg, root, "warning"))
    for info in infos:
        issues += check_info(info, sent)
    return issues


def _id_chars(root: etree._Element, name: str, rule: str) -> list[Issue]:
    """Identifier/sender: non-empty, no whitespace, commas, ``<`` or ``&``."""
    el = root.find(Q + name)
    if el is None:
        return []
    text = el.text or ""
    if not text:
        return [issue_at(rule, f"<{name}> must not be empty", el)]
    bad = _FORBIDDEN_ID_CHARS.search(text)
    if bad:
        msg = f"<{name}> {text!r} contains {bad.group()!r}; spaces, commas, < and & are forbidden"
        return [issue_at(rule, msg, el)]
    return []


def _datetime_offsets(root: etree._Element) -> list[Issue]:
    """Every dateTime carries an explicit numeric offset and whole seconds (no ``Z``)."""
    issues = []
    for el in root.iter(*_DATETIME_TAGS):
        if parse_datetime(el.text) is None:
            msg = (
                f"<{etree.QName(el).localname}> {el.text!r} is not a CAP 1.2 dateTime "
                "(YYYY-MM-DDThh:mm:ss with an explicit offset such as -07:00, no Z)"
            )
            issues.append(issue_at("CAP-DATETIME-OFFSET", msg, el))
    return issues


def _references(root: etree._Element) -> list[Issue]:
    """References are whitespace-separated ``sender,identifier,sent`` triplets, not self."""
    el = root.find(f"{Q}references")
    msg_type = root.findtext(f"{Q}msgType")
    if el is None:
        if msg_type in _NEEDS_REFERENCES:
            msg = f"msgType {msg_type} must name the message(s) it refers to in <references>"
            return [issue_at("CAP-REFERENCES-REQUIRED", msg, root)]
        return []
    tokens = (el.text or "").split()
    if not tokens and msg_type in _NEEDS_REFERENCES:
        msg = f"<references> is empty but msgType {msg_type} must name what it refers to"
        return [issue_at("CAP-REFERENCES-FORMAT", msg, el)]
    if not tokens:
        return [issue_at("CAP-EMPTY-ELEMENT", "<references> is present but empty", el, "warning")]
    own = (root.findtext(f"{Q}sender"), root.findtext(f"{Q}identifier"))
    issues = []
    for token in tokens:
        parsed = parse_reference(token)
        if parsed is None:
            msg = f"reference {token!r} is not a sender,identifier,sent triplet"
            issues.append(issue_at("CAP-REFERENCES-FORMAT", msg, el))
        elif parsed[:2] == own:
            msg = f"reference {token!r} points at this very message"
            issues.append(issue_at("CAP-REFERENCES-SELF", msg, el))
    return issues


def _scope(root: etree._Element) -> list[Issue]:
    """Restriction only with scope Restricted (and required there); addresses with Private."""
    scope = root.findtext(f"{Q}scope")
    restriction = root.find(f"{Q}restriction")
    has_restriction = restriction is not None and bool((restriction.text or "").strip())
    issues = []
    if has_restriction and scope != "Restricted" and restriction is not None:
        msg = f"<restriction> is only allowed with scope Restricted (scope is {scope})"
        issues.append(issue_at("CAP-RESTRICTION-SCOPE", msg, restriction))
    if scope == "Restricted" and not has_restriction:
        msg = "scope Restricted requires a non-empty <restriction>"
        issues.append(issue_at("CAP-RESTRICTION-REQUIRED", msg, root))
    if scope == "Private" and not (root.findtext(f"{Q}addresses") or "").strip():
        msg = "scope Private requires a non-empty <addresses>"
        issues.append(issue_at("CAP-ADDRESSES-REQUIRED", msg, root))
    return issues


def _empty_optionals(root: etree._Element) -> list[Issue]:
    """Optional alert elements that are present but empty (usually a generator bug)."""
    issues = []
    for name in _OPTIONAL_TEXT:
        el = root.find(Q + name)
        if el is not None and not (el.text or "").strip():
            msg = f"<{name}> is present but empty"
            issues.append(issue_at("CAP-EMPTY-ELEMENT", msg, el, "warning"))
    return issues
