"""Semantic CAP 1.2 rules on the alert segment (beyond the XSD), each with a stable code.

Severity policy: anything that could send the wrong message, to the wrong people, or make an
Update/Cancel unresolvable is an ``error``; oddities that real agencies send and that do not
change who is alerted or when (an empty optional element, an onset before ``sent``) are
``warning``. Rules run on the CAP 1.2 element tree (after ``upgrade``), so they see lines.

Codes: ``CAP-IDENTIFIER-CHARS``, ``CAP-SENDER-CHARS``, ``CAP-DATETIME-OFFSET``,
``CAP-REFERENCES-FORMAT`` (a token that is not a triplet; empty when msgType needs references),
``CAP-REFERENCES-SELF``, ``CAP-REFERENCES-REQUIRED`` (Update/Cancel/Ack/Error without
references), ``CAP-RESTRICTION-SCOPE``, ``CAP-RESTRICTION-REQUIRED``,
``CAP-ADDRESSES-REQUIRED``, ``CAP-EMPTY-ELEMENT`` (warning), ``CAP-INFO-MISSING`` (warning);
info, resource and area rules live in ``rules_info`` and ``rules_area``.
"""

from __future__ import annotations

import re

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.rules_info import check_info, datetime_issue
from alerts.cap.tree import Kids, KidsCache, Texts
from alerts.cap.values import parse_reference

# CAP 1.2 section 3.2.1: no spaces, commas or restricted characters (< and &).
_FORBIDDEN_ID_CHARS = re.compile(r"[\s,<&]")
_NEEDS_REFERENCES = frozenset({"Update", "Cancel", "Ack", "Error"})
_OPTIONAL_TEXT = ("source", "restriction", "addresses", "note", "incidents")


def check_alert(root: etree._Element, kids: KidsCache | None = None) -> list[Issue]:
    """Run every semantic rule over a CAP 1.2 ``<alert>`` tree."""
    kids = kids or KidsCache()
    k, t = kids.of(root)
    issues = _id_chars(k, t, "identifier", "CAP-IDENTIFIER-CHARS")
    issues += _id_chars(k, t, "sender", "CAP-SENDER-CHARS")
    sent = kids.date_of(t.get("sent"))
    if sent is None and "sent" in k:
        issues += datetime_issue(k["sent"][0])
    issues += _references(root, k, t)
    issues += _scope(root, k, t)
    issues += _empty_optionals(k, t)
    infos = k.get("info", [])
    if not infos and t.get("msgType") in ("Alert", "Update"):
        msg = "Alert/Update without <info>: recipients get nothing to read"
        issues.append(issue_at("CAP-INFO-MISSING", msg, root, "warning"))
    for info in infos:
        issues += check_info(kids, info, sent)
    return issues


def _id_chars(k: Kids, t: Texts, name: str, rule: str) -> list[Issue]:
    """Identifier/sender: non-empty, no whitespace, commas, ``<`` or ``&``."""
    value = t.get(name)
    if value is None:
        return []
    if not value:
        return [issue_at(rule, f"<{name}> must not be empty", k[name][0])]
    bad = _FORBIDDEN_ID_CHARS.search(value)
    if bad:
        msg = f"<{name}> {value!r} contains {bad.group()!r}; spaces, commas, < and & are forbidden"
        return [issue_at(rule, msg, k[name][0])]
    return []


def _references(root: etree._Element, k: Kids, t: Texts) -> list[Issue]:
    """References are whitespace-separated ``sender,identifier,sent`` triplets, not self."""
    value = t.get("references")
    msg_type = t.get("msgType")
    if value is None:
        if msg_type in _NEEDS_REFERENCES:
            msg = f"msgType {msg_type} must name the message(s) it refers to in <references>"
            return [issue_at("CAP-REFERENCES-REQUIRED", msg, root)]
        return []
    el = k["references"][0]
    tokens = value.split()
    if not tokens and msg_type in _NEEDS_REFERENCES:
        msg = f"<references> is empty but msgType {msg_type} must name what it refers to"
        return [issue_at("CAP-REFERENCES-FORMAT", msg, el)]
    if not tokens:
        return [issue_at("CAP-EMPTY-ELEMENT", "<references> is present but empty", el, "warning")]
    own = (t.get("sender"), t.get("identifier"))
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


def _scope(root: etree._Element, k: Kids, t: Texts) -> list[Issue]:
    """Restriction only with scope Restricted (and required there); addresses with Private."""
    scope = t.get("scope")
    restriction = t.get("restriction")
    issues = []
    if restriction is not None and restriction.strip():
        if scope != "Restricted":
            msg = f"<restriction> is only allowed with scope Restricted (scope is {scope})"
            issues.append(issue_at("CAP-RESTRICTION-SCOPE", msg, k["restriction"][0]))
    elif scope == "Restricted":
        msg = "scope Restricted requires a non-empty <restriction>"
        issues.append(issue_at("CAP-RESTRICTION-REQUIRED", msg, root))
    if scope == "Private" and not (t.get("addresses") or "").strip():
        msg = "scope Private requires a non-empty <addresses>"
        issues.append(issue_at("CAP-ADDRESSES-REQUIRED", msg, root))
    return issues


def _empty_optionals(k: Kids, t: Texts) -> list[Issue]:
    """Optional alert elements that are present but empty (usually a generator bug)."""
    issues = []
    for name in _OPTIONAL_TEXT:
        value = t.get(name)
        if value is not None and not value.strip():
            msg = f"<{name}> is present but empty"
            issues.append(issue_at("CAP-EMPTY-ELEMENT", msg, k[name][0], "warning"))
    return issues
