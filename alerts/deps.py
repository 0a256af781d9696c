"""FastAPI dependencies as ``Annotated`` aliases: settings, DB session, calling agency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.access import service as access
from alerts.access.models import Agency, Principal
from alerts.errors import Forbidden, Unauthenticated
from alerts.settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The engine owned by the app's lifespan."""
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session per request: committed when the endpoint returns, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_bearer = HTTPBearer(auto_error=False, description="Agency API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Agency API key")


def get_principal(
    session: Annotated[Session, Depends(get_session)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The agency and key behind this request (401 when missing or unknown)."""
    key = bearer.credentials if bearer else header
    if not key:
        raise Unauthenticated("an agency API key is required (Authorization: Bearer or X-API-Key)")
    return access.authenticate(session=session, key=key)


def get_current_agency(principal: Annotated[Principal, Depends(get_principal)]) -> Agency:
    """The agency whose API key signed this request."""
    return principal.agency


def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, who must hold an admin key (403 otherwise)."""
    if not principal.admin:
        raise Forbidden("this needs an admin API key")
    return principal


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
CurrentAgency = Annotated[Agency, Depends(get_current_agency)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AdminPrincipal = Annotated[Principal, Depends(get_admin)]
