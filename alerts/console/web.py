"""Console plumbing: templates, the signed session cookie, CSRF tokens, the signed-in user."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session

from alerts.access.models import Agency
from alerts.access.service import get_agency
from alerts.access.user_models import CAN_ADMIN, CAN_APPROVE, CAN_COMPOSE, Role, User
from alerts.deps import SessionDep, get_app_settings
from alerts.errors import BadInput, Unauthenticated
from alerts.settings import Settings

HERE = Path(__file__).resolve().parent
COOKIE = "alertcast_console"
SESSION_MAX_AGE_S = 12 * 3600
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)


@dataclass(slots=True)
class ConsoleSession:
    """What the session cookie carries: the user (None before login) and the CSRF token."""

    user_id: int | None
    csrf: str


@dataclass(slots=True)
class Operator:
    """The signed-in user, their agency, and the session's CSRF token."""

    user: User
    agency: Agency
    csrf: str

    @property
    def actor(self) -> str:
        """How this person appears in the audit log and as alert author."""
        return f"user:{self.user.username}"

    @property
    def can_compose(self) -> bool:
        """May write alerts."""
        return Role(self.user.role) in CAN_COMPOSE

    @property
    def can_approve(self) -> bool:
        """May approve other people's Actual alerts."""
        return Role(self.user.role) in CAN_APPROVE

    @property
    def is_admin(self) -> bool:
        """May manage subscribers and users."""
        return Role(self.user.role) in CAN_ADMIN


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="console-session")


def read_session(request: Request) -> ConsoleSession | None:
    """The session from the signed cookie, or None when missing, forged or expired."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(get_app_settings(request)).loads(raw, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    uid = data.get("u")
    return ConsoleSession(user_id=uid if isinstance(uid, int) else None, csrf=data["c"])


def write_session(request: Request, response: Response, state: ConsoleSession) -> None:
    """Set the signed cookie: HttpOnly, SameSite=Strict, Secure whenever served over https."""
    settings = get_app_settings(request)
    value = _serializer(settings).dumps({"u": state.user_id, "c": state.csrf})
    secure = request.url.scheme == "https" or settings.public_base_url.startswith("https")
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_MAX_AGE_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def new_session(user_id: int | None = None) -> ConsoleSession:
    """A fresh session with a new CSRF token (issued at login to prevent fixation)."""
    return ConsoleSession(user_id=user_id, csrf=secrets.token_urlsafe(24))


def check_csrf(expected: str, presented: str | None) -> None:
    """Refuse a state-changing request whose CSRF token does not match the session's."""
    if not presented or not hmac.compare_digest(expected, presented):
        raise BadInput("the form's security token is missing or stale; reload the page and retry")


class LoginRequiredError(Exception):
    """Raised when a console page needs a signed-in user; handled by redirecting to login."""


def load_operator(session: Session, state: ConsoleSession | None) -> Operator | None:
    """The operator for a session, or None (no user, unknown, disabled)."""
    if state is None or state.user_id is None:
        return None
    user = session.get(User, state.user_id)
    if user is None or user.disabled:
        return None
    return Operator(
        user=user, agency=get_agency(session=session, agency_id=user.agency_id), csrf=state.csrf
    )


def current_operator(request: Request, session: SessionDep) -> Operator:
    """Dependency: the signed-in operator; anonymous requests go to the login page."""
    operator = load_operator(session, read_session(request))
    if operator is None:
        raise LoginRequiredError
    return operator


def api_operator(request: Request, session: SessionDep) -> Operator:
    """Dependency for console JSON endpoints: 401 problem instead of a redirect."""
    operator = load_operator(session, read_session(request))
    if operator is None:
        raise Unauthenticated("sign in to the console first")
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]
ApiOperator = Annotated[Operator, Depends(api_operator)]


def render(
    request: Request, name: str, operator: Operator | None, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    """Render a console template with the operator and CSRF token in context."""
    ctx.setdefault("mode", None)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        name,
        {"op": operator, "csrf": operator.csrf if operator else "", **ctx},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other, the right answer to a successful form POST."""
    return RedirectResponse(url, status_code=303)
