"""Sign in and out of the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from alerts.access import users
from alerts.audit import service as audit
from alerts.console.web import (
    CurrentOperator,
    check_csrf,
    new_session,
    read_session,
    redirect,
    render,
    write_session,
)
from alerts.deps import SessionDep
from alerts.errors import Unauthenticated

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", name="console_home")
def home() -> Response:
    """The console starts at the alert list."""
    return redirect("/console/alerts")


@router.get("/login", response_class=HTMLResponse, name="console_login")
def login_page(request: Request) -> Response:
    """The sign-in form, with a pre-login CSRF token in a fresh session cookie."""
    state = read_session(request) or new_session()
    response = render(request, "login.html", None, csrf_token=state.csrf)
    write_session(request, response, state)
    return response


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the password (argon2, lockout after 5 failures) and start a new session."""
    state = read_session(request)
    check_csrf(state.csrf if state else "", csrf_token)
    try:
        user = users.authenticate_user(
            session=session, username=username.strip(), password=password
        )
    except Unauthenticated as exc:
        session.commit()  # keep the failure count and the audit event
        assert state is not None
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            error=exc.detail,
            csrf_token=state.csrf,
            username=username,
        )
    response = redirect("/console/alerts")
    write_session(request, response, new_session(user.id))
    return response


@router.post("/logout")
def logout(
    request: Request,
    op: CurrentOperator,
    session: SessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """End the session."""
    check_csrf(op.csrf, csrf_token)
    audit.record(
        session=session,
        actor=op.actor,
        action="logout",
        target_type="user",
        target_id=op.user.id or "",
    )
    response = redirect("/console/login")
    write_session(request, response, new_session())
    return response
