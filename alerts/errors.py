"""One exception tree for the service, rendered as RFC 9457 ``application/problem+json``.

AlertcastError
├── BadInput (400)            input breaks a rule; ``violations`` name each rule
│   └── CapInvalid            a CAP document failed parsing/validation
├── Unauthenticated (401)     no or unknown credentials
├── Forbidden (403)           credentials fine, action not allowed
├── NotFound (404)
├── Conflict (409)
├── PayloadTooLarge (413)
├── UnsupportedMediaType (415)
└── Unavailable (503)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: stable code, message, and where."""

    rule: str
    message: str
    path: str | None = None
    line: int | None = None
    severity: str = "error"


class AlertcastError(Exception):
    """Root of every domain error the API turns into a problem document."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    type_slug: ClassVar[str] = "internal"
    # The rule named when the raiser gives no violations, so every 4xx names the rule it broke.
    rule: ClassVar[str | None] = None

    def __init__(self, detail: str, *, violations: list[Violation] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if not violations and self.rule is not None:
            violations = [Violation(rule=self.rule, message=detail)]
        self.violations = violations or []


class BadInput(AlertcastError):
    """The request breaks a documented rule."""

    status, title, type_slug = 400, "Bad input", "bad-input"


class CapInvalid(BadInput):
    """A CAP document was rejected."""

    title, type_slug = "CAP document rejected", "cap-invalid"


class Unauthenticated(AlertcastError):
    """Missing or unknown credentials."""

    status, title, type_slug = 401, "Authentication required", "unauthenticated"
    rule = "AUTH-REQUIRED"


class Forbidden(AlertcastError):
    """The caller may not do this."""

    status, title, type_slug = 403, "Forbidden", "forbidden"


class NotFound(AlertcastError):
    """No such resource."""

    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(AlertcastError):
    """The resource's state forbids this."""

    status, title, type_slug = 409, "Conflict", "conflict"


class PayloadTooLarge(AlertcastError):
    """The body is over the configured limit."""

    status, title, type_slug = 413, "Payload too large", "payload-too-large"
    rule = "BODY-TOO-LARGE"


class UnsupportedMediaType(AlertcastError):
    """The body's media type is not accepted here."""

    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"
    rule = "MEDIA-TYPE-UNSUPPORTED"


class Unavailable(AlertcastError):
    """A dependency (database, MMSC) is down."""

    status, title, type_slug = 503, "Service unavailable", "unavailable"


def problem(
    status: int, title: str, detail: str, *, slug: str, instance: str, extra: dict[str, Any]
) -> JSONResponse:
    """Build an RFC 9457 problem response."""
    body = {
        "type": f"https://alertcast.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {"WWW-Authenticate": 'ApiKey realm="alertcast"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _domain_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlertcastError)
    extra: dict[str, Any] = {}
    if exc.violations:
        extra["violations"] = [asdict(v) for v in exc.violations]
    return problem(
        exc.status,
        exc.title,
        exc.detail,
        slug=exc.type_slug,
        instance=request.url.path,
        extra=extra,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    violations = [
        {
            "rule": f"REQUEST-{str(e.get('type', 'invalid')).upper().replace('_', '-')}",
            "message": str(e.get("msg", "")),
            "path": "/".join(str(p) for p in e.get("loc", ())),
            "line": None,
            "severity": "error",
        }
        for e in exc.errors()
    ]
    return problem(
        422,
        "Request validation failed",
        f"{len(violations)} field(s) are invalid",
        slug="request-invalid",
        instance=request.url.path,
        extra={"violations": violations},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every domain error and request validation error as problem+json."""
    app.add_exception_handler(AlertcastError, _domain_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
