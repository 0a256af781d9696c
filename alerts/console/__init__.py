"""Operator web console under ``/console``: server-rendered pages, a little JS, Leaflet maps.

``install(app)`` adds the routes, the static files (our own and the npm libraries in
``node_modules``) and the handlers that turn "not signed in" and domain errors on pages into
a redirect or an HTML page instead of problem+json.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from alerts.console import (
    routes_admin,
    routes_alerts,
    routes_auth,
    routes_compose,
    routes_preview,
)
from alerts.console.web import HERE, LoginRequiredError, read_session, redirect, render
from alerts.errors import AlertcastError
from alerts.settings import REPO_ROOT

NODE_MODULES = REPO_ROOT / "node_modules"
# Only these npm packages are served, never the whole node_modules folder.
SERVED_PACKAGES = {"leaflet": "leaflet/dist", "swagger-ui": "swagger-ui-dist"}


async def _login_redirect(request: Request, exc: Exception) -> Response:
    return redirect("/console/login")


def _wrap_domain_handler(app: FastAPI) -> None:
    """Console pages show domain errors as a page; the API keeps problem+json."""
    api_handler: Any = app.exception_handlers.get(AlertcastError)

    async def handler(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if (
            path.startswith("/console/")
            and not path.startswith("/console/api/")
            and ("text/html" in request.headers.get("accept", ""))
        ):
            assert isinstance(exc, AlertcastError)
            signed_in = read_session(request) is not None
            return render(
                request, "error.html", None, status_code=exc.status, error=exc, signed_in=signed_in
            )
        response: Response = await api_handler(request, exc)
        return response

    app.add_exception_handler(AlertcastError, handler)


def install(app: FastAPI) -> None:
    """Mount the console on the app."""
    for router in (
        routes_auth.router,
        routes_compose.router,
        routes_preview.router,
        routes_alerts.router,
        routes_admin.router,
    ):
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console_static")
    for name, sub in SERVED_PACKAGES.items():
        folder = NODE_MODULES / sub
        if folder.is_dir():
            app.mount(
                f"/console/vendor/{name}",
                StaticFiles(directory=folder),
                name=f"console_vendor_{name}",
            )
    app.add_exception_handler(LoginRequiredError, _login_redirect)
    _wrap_domain_handler(app)


__all__ = ["install"]
