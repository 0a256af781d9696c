"""Validation outcome types: rule violations, signature status and the parse result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from alerts.cap.model import CapAlert

IssueSeverity = Literal["error", "warning"]
SignatureStatus = Literal["verified", "absent", "invalid", "unverifiable", "unchecked"]
CapVersion = Literal["1.2", "1.1", "1.0"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One rule violation: stable code, message, element path, source line and severity."""

    rule: str
    message: str
    path: str | None = None
    line: int | None = None
    severity: IssueSeverity = "error"

    def as_dict(self) -> dict[str, str | int | None]:
        """Return a JSON-ready mapping (used by the CLI and problem+json)."""
        return {
            "rule": self.rule,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """XML-Signature outcome; ``trusted`` is True only when the key matched ``trusted_certs``."""

    status: SignatureStatus
    signer_subject: str | None = None
    trusted: bool = False
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What ``parse()`` found: the alert (only when ok), every issue, version and signature."""

    raw: bytes
    alert: CapAlert | None
    issues: tuple[Issue, ...] = ()
    cap_version: CapVersion | None = None
    signature: SignatureInfo = field(default_factory=lambda: SignatureInfo("absent"))

    @property
    def ok(self) -> bool:
        """True when no issue has severity ``error``."""
        return not any(i.severity == "error" for i in self.issues)

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The issues with severity ``error``."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """The issues with severity ``warning``."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def rules(self) -> frozenset[str]:
        """The set of rule codes raised (errors and warnings)."""
        return frozenset(i.rule for i in self.issues)

    def raise_for_errors(self) -> CapAlert:
        """Return the alert, or raise ``CapRejected`` listing the issues."""
        if self.alert is None or not self.ok:
            raise CapRejected(self.issues)
        return self.alert


class CapRejected(ValueError):
    """Raised for callers that prefer exceptions; carries every issue found."""

    def __init__(self, issues: tuple[Issue, ...] | list[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        summary = "; ".join(f"{i.rule}: {i.message}" for i in errors[:3])
        super().__init__(f"CAP rejected ({len(errors)} error(s)): {summary}")
