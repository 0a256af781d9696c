"""Console users: create, authenticate with argon2 and lockout, look up; ``alertcast user``."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Annotated

import typer
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from alerts.access.service import find_agency, get_agency
from alerts.access.user_models import Role, User, UserCreate, UserPublic
from alerts.audit import service as audit
from alerts.db import utcnow
from alerts.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated, Violation

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths cost one verification."""
    return _hasher.hash("not-a-real-password-for-timing")


def create_user(*, session: Session, data: UserCreate, actor: str = "system") -> User:
    """Create a console user with an argon2id password hash; usernames are unique."""
    if data.role not in {r.value for r in Role}:
        raise BadInput(f"unknown role {data.role!r}; one of {', '.join(r.value for r in Role)}")
    get_agency(session=session, agency_id=data.agency_id)
    if session.exec(select(User).where(User.username == data.username)).first():
        raise Conflict(f"user {data.username!r} already exists")
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        role=data.role,
        agency_id=data.agency_id,
        password_hash=_hasher.hash(data.password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id or "",
        detail={"username": user.username, "role": user.role},
    )
    return user


def _locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _fail(session: Session, user: User) -> None:
    """Count a failed login; the fifth in a row locks the account for 15 minutes."""
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = utcnow() + LOCKOUT
        user.failed_logins = 0
        audit.record(
            session=session,
            actor=user.username,
            action="user.locked",
            target_type="user",
            target_id=user.id or "",
        )
    session.add(user)


def authenticate_user(*, session: Session, username: str, password: str) -> User:
    """Check a password; raises Unauthenticated (bad or locked) and audits every attempt."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        _verify(_dummy_hash(), password)
        audit.record(
            session=session,
            actor=username[:200],
            action="login.failed",
            detail={"reason": "unknown user"},
        )
        raise Unauthenticated("wrong username or password")
    if _locked(user) or user.disabled:
        audit.record(
            session=session,
            actor=user.username,
            action="login.refused",
            target_type="user",
            target_id=user.id or "",
            detail={"reason": "locked"},
        )
        raise Unauthenticated(
            "this account is locked after repeated failed logins; try again in 15 minutes",
            violations=[Violation(rule="LOGIN-LOCKED", message="account locked")],
        )
    if not _verify(user.password_hash, password):
        _fail(session, user)
        audit.record(
            session=session,
            actor=user.username,
            action="login.failed",
            target_type="user",
            target_id=user.id or "",
        )
        raise Unauthenticated("wrong username or password")
    return _succeed(session, user, password)


def _succeed(session: Session, user: User, password: str) -> User:
    """Reset the failure counter, rehash if argon2 parameters changed, audit the login."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    session.add(user)
    audit.record(
        session=session,
        actor=user.username,
        action="login",
        target_type="user",
        target_id=user.id or "",
    )
    return user


def get_user(*, session: Session, user_id: int) -> User:
    """One user by id, or NotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def list_users(*, session: Session, agency_id: int) -> list[User]:
    """The users of one agency, by username."""
    q = select(User).where(User.agency_id == agency_id).order_by(col(User.username))
    return list(session.exec(q))


def require_role(user: User, allowed: frozenset[Role], what: str) -> None:
    """Raise Forbidden unless the user's role is one of ``allowed``."""
    if Role(user.role) not in allowed:
        raise Forbidden(f"your role ({user.role}) may not {what}")


def public(user: User) -> UserPublic:
    """The public view of a user."""
    assert user.id is not None
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        agency_id=user.agency_id,
    )


users_app = typer.Typer(help="Console users (operators).", no_args_is_help=True)


@users_app.callback()
def users_group() -> None:
    """Console users: sign-in accounts of operators, each with one role in one agency."""


@users_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name (unique)")],
    agency: Annotated[str, typer.Option(help="Agency id or name the user works for")],
    role: Annotated[Role, typer.Option(help="author, approver, admin or viewer")] = Role.VIEWER,
    display_name: Annotated[str, typer.Option(help="Name shown in the console")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="ALERTCAST_NEW_USER_PASSWORD",
            help="At least 10 characters",
        ),
    ] = "",
) -> None:
    """Create a console user (the password is prompted for, or read from the environment)."""
    from alerts.db import make_engine, session_scope
    from alerts.settings import get_settings

    engine = make_engine(get_settings())
    with session_scope(engine) as session:
        found = find_agency(session=session, ref=agency)
        assert found.id is not None
        user = create_user(
            session=session,
            actor="cli",
            data=UserCreate(
                username=username,
                display_name=display_name,
                role=role.value,
                agency_id=found.id,
                password=password,
            ),
        )
        typer.echo(f"user {user.username} id={user.id} role={user.role} agency={found.name}")
    engine.dispose()
