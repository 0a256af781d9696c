"""FastAPI dependencies as ``Annotated`` aliases: settings, DB session, calling agency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

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


# FastAPI runs plain-``def`` dependencies in the thread pool, one hop each; these trivial ones
# are ``async`` so a request pays thread hops only for real blocking work.
async def _settings(request: Request) -> Settings:
    return get_app_settings(request)


async def _engine(request: Request) -> Engine:
    return get_engine(request)


def get_session(engine: Annotated[Engine, Depends(_engine)]) -> Iterator[Session]:
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


async def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The agency and key behind this request (401 when missing or unknown).

    A key verified in the last ``api_key_cache_s`` seconds is answered from the app's cache
    without touching the database; otherwise it is looked up in a short session of its own.
    """
    key = bearer.credentials if bearer else header
    if not key:
        raise Unauthenticated("an agency API key is required (Authorization: Bearer or X-API-Key)")
    cache: access.PrincipalCache | None = getattr(request.app.state, "key_cache", None)
    principal = cache.get(key) if cache is not None else None
    if principal is None:
        principal = await run_in_threadpool(access.authenticate_on, get_engine(request), key)
        if cache is not None:
            cache.put(key, principal)
    return principal


async def get_optional_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal | None:
    """The caller when a key is given (401 when it is unknown), None for anonymous reads."""
    if not (bearer or header):
        return None
    return await get_principal(request, bearer, header)


async def get_current_agency(principal: Annotated[Principal, Depends(get_principal)]) -> Agency:
    """The agency whose API key signed this request."""
    return principal.agency


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, who must hold an admin key (403 otherwise)."""
    if not principal.admin:
        raise Forbidden("this needs an admin API key")
    return principal


SettingsDep = Annotated[Settings, Depends(_settings)]
EngineDep = Annotated[Engine, Depends(_engine)]
# scope="function": commit before the response is sent. The default ("request") commits after
# it, so a client could read 201 while the row is not yet visible, or the commit then fail.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CurrentAgency = Annotated[Agency, Depends(get_current_agency)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]
AdminPrincipal = Annotated[Principal, Depends(get_admin)]
