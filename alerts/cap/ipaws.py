"""CAP-IPAWS v1.0 profile rules (optional, per agency), codes ``IPAWS-*``.

From the OASIS "CAP v1.2 USA Integrated Public Alert and Warning System Profile v1.0":
``<code>IPAWSv1.0</code>``; every info has ``expires``, exactly one SAME ``eventCode``, at least
one area; all infos share the same category and eventCode sets; WEA text parameters
``CMAMtext`` <= 90 and ``CMAMlongtext`` <= 360 characters.
"""

from __future__ import annotations

from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.schema import CAP12_NS

Q = f"{{{CAP12_NS}}}"
PROFILE_CODE = "IPAWSv1.0"
_TEXT_LIMITS = {"CMAMtext": 90, "CMAMlongtext": 360}


def check_ipaws(root: etree._Element) -> list[Issue]:
    """Run the CAP-IPAWS v1.0 rules on a CAP 1.2 alert tree."""
    issues: list[Issue] = []
    codes = [(c.text or "").strip() for c in root.iterfind(f"{Q}code")]
    if PROFILE_CODE not in codes:
        msg = f"IPAWS profile requires <code>{PROFILE_CODE}</code>"
        issues.append(issue_at("IPAWS-CODE", msg, root))
    infos = root.findall(f"{Q}info")
    for info in infos:
        issues += _info_rules(info)
    issues += _consistency(infos)
    return issues


def _info_rules(info: etree._Element) -> list[Issue]:
    """Per-info IPAWS rules."""
    issues: list[Issue] = []
    if info.find(f"{Q}expires") is None:
        issues.append(issue_at("IPAWS-EXPIRES", "IPAWS profile requires <expires>", info))
    same = [c for c in info.iterfind(f"{Q}eventCode") if c.findtext(f"{Q}valueName") == "SAME"]
    if len(same) != 1:
        msg = f"IPAWS profile requires exactly one SAME eventCode, found {len(same)}"
        issues.append(issue_at("IPAWS-SAME-EVENTCODE", msg, info))
    if info.find(f"{Q}area") is None:
        issues.append(issue_at("IPAWS-AREA", "IPAWS profile requires an <area> per info", info))
    for param in info.iterfind(f"{Q}parameter"):
        name = param.findtext(f"{Q}valueName") or ""
        limit = _TEXT_LIMITS.get(name)
        value = param.findtext(f"{Q}value") or ""
        if limit is not None and len(value) > limit:
            msg = f"{name} is {len(value)} characters, the limit is {limit}"
            issues.append(issue_at(f"IPAWS-{name.upper()}-LENGTH", msg, param))
    return issues


def _signature(info: etree._Element) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The (category set, eventCode set) of an info."""
    categories = frozenset((c.text or "").strip() for c in info.iterfind(f"{Q}category"))
    codes = frozenset(
        (c.findtext(f"{Q}valueName") or "", c.findtext(f"{Q}value") or "")
        for c in info.iterfind(f"{Q}eventCode")
    )
    return categories, codes


def _consistency(infos: list[etree._Element]) -> list[Issue]:
    """All infos (one per language) carry the same categories and event codes."""
    if len(infos) < 2:
        return []
    first = _signature(infos[0])
    return [
        issue_at(
            "IPAWS-INFO-CONSISTENCY",
            "category/eventCode sets differ from the first <info>",
            info,
        )
        for info in infos[1:]
        if _signature(info) != first
    ]
