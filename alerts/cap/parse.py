"""The CAP ingest pipeline: bytes in, ``ParseResult`` out. Never raises on bad input.

Stages: hardened XML parse -> EDXL-DE unwrap (one alert) -> CAP version from the namespace ->
XML-Signature (on the original bytes, before anything is rewritten) -> XSD of the original
version -> upgrade to CAP 1.2 (+ 1.2 XSD for upgraded documents) -> semantic rules
(+ IPAWS profile) -> immutable ``CapAlert`` when no error was found.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from alerts.cap import signature
from alerts.cap.build import build_alert
from alerts.cap.edxl import embedded_alerts, is_edxl
from alerts.cap.ipaws import check_ipaws
from alerts.cap.model import CapAlert
from alerts.cap.paths import line_of
from alerts.cap.result import CapVersion, Issue, ParseResult, SignatureInfo
from alerts.cap.rules import check_alert
from alerts.cap.schema import validate_schema, version_of
from alerts.cap.signature import TrustedCerts
from alerts.cap.tree import KidsCache
from alerts.cap.upgrade import upgrade_to_12
from alerts.cap.xmlsafe import safe_parse

FastAlert = Callable[[etree._Element], tuple[CapAlert, list[Issue]] | None]
fast_alert: FastAlert | None
try:  # the compiled fast path; without it (no C compiler at install) the rules run in Python
    from alerts.cap._fast import fast_alert
except ImportError:  # pragma: no cover - the test environment always builds it
    fast_alert = None

DEFAULT_MAX_BYTES = 1_048_576


def parse(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ipaws_profile: bool = False,
    require_signature: bool = False,
    trusted_certs: TrustedCerts | None = None,
    check_signature: bool = True,
) -> ParseResult:
    """Parse and validate one CAP document; ``.alert`` is set only when ``.ok``."""
    if not isinstance(data, bytes):
        raise TypeError(f"parse() takes the raw bytes of the document, not {type(data).__name__}")
    root, issues = safe_parse(data, max_bytes=max_bytes)
    if root is None:
        return ParseResult(data, None, tuple(issues))
    root, unwrap_issues = _unwrap(root)
    issues += unwrap_issues
    version, version_issues = (None, []) if root is None else version_of(root)
    if root is None or version is None:
        return ParseResult(data, None, tuple(issues + version_issues))
    # An unwrapped alert is serialised for the signature check only when it carries one.
    signed_bytes = data if not unwrap_issues else None
    sig, sig_issues = _signature(
        signed_bytes, root, require_signature, trusted_certs, check_signature
    )
    issues += sig_issues
    issues += _schema(root, version)
    found = None if fast_alert is None or issues_have_errors(issues) else fast_alert(root)
    kids = KidsCache()
    # The compiled path found no rule error and gives the model with the rules' warnings.
    issues += check_alert(root, kids) if found is None else found[1]
    if ipaws_profile:
        issues += check_ipaws(root)
    if found is not None and not issues_have_errors(issues):
        alert: CapAlert | None = found[0]
    else:
        alert = _build(root, issues, kids)
    return ParseResult(data, alert, tuple(issues), version, sig)


def _unwrap(root: etree._Element) -> tuple[etree._Element | None, list[Issue]]:
    """Replace an EDXL-DE envelope by the single CAP alert it carries."""
    if not is_edxl(root):
        return root, []
    alerts = embedded_alerts(root)
    if len(alerts) == 1:
        msg = "CAP alert unwrapped from an EDXL-DE distribution envelope"
        return alerts[0], [Issue("CAP-EDXL-UNWRAPPED", msg, "/EDXLDistribution", 1, "warning")]
    msg = f"EDXL-DE envelope carries {len(alerts)} CAP alerts; submit them one by one"
    return None, [Issue("CAP-EDXL-MULTIPLE", msg, "/EDXLDistribution", line_of(root))]


def _signature(
    data: bytes | None,
    root: etree._Element,
    required: bool,
    trusted_certs: TrustedCerts | None,
    check: bool,
) -> tuple[SignatureInfo, list[Issue]]:
    """Verify the XML signature (always when required); ``data`` None: serialise ``root``."""
    present = signature.has_signature(root)
    if not (check or required):
        return SignatureInfo("unchecked" if present else "absent"), []
    if data is None:
        data = etree.tostring(root) if present else b""
    info, issues = signature.verify(data, root, trusted_certs)
    if required and info.status in ("absent", "unverifiable"):
        issues.append(signature.unsigned_issue())
    return info, issues


def _schema(root: etree._Element, version: CapVersion) -> list[Issue]:
    """XSD of the original version, upgrade, and the CAP 1.2 XSD for upgraded documents."""
    issues = validate_schema(root, version)
    issues += upgrade_to_12(root, version)
    if version != "1.2" and not issues_have_errors(issues):
        issues += [_upgraded(i) for i in validate_schema(root, "1.2")]
    return issues


def _upgraded(issue: Issue) -> Issue:
    """Say that an XSD error was found after the upgrade to CAP 1.2."""
    msg = f"after upgrade to CAP 1.2: {issue.message}"
    return Issue(issue.rule, msg, issue.path, issue.line, issue.severity)


def issues_have_errors(issues: list[Issue]) -> bool:
    """True when any issue is an error."""
    return any(i.severity == "error" for i in issues)


def _build(root: etree._Element, issues: list[Issue], kids: KidsCache) -> CapAlert | None:
    """Build the model when nothing is wrong; a conversion failure becomes an issue."""
    if issues_have_errors(issues):
        return None
    try:
        return build_alert(root, kids)
    except (ValueError, ArithmeticError) as exc:  # defensive: rules should have caught it
        issues.append(Issue("CAP-MODEL", f"cannot build the alert: {exc}"))
        return None
