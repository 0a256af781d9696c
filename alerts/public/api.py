"""Map images, MMS previews and the public alert page ``/a/{short-id}``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from alerts.deps import SessionDep
from alerts.dispatch.models import DispatchPlan
from alerts.intake import service as intake
from alerts.public import service

router = APIRouter(tags=["public"])
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_SIZE = Query(
    pattern=r"^\d+x\d+$", description="640x480 (MMS Image Rich), 160x120 (Image Basic), 1280x960"
)
_LANG = Query(max_length=35, description="BCP 47 language; falls back to the alert's first")


def _image(alert_id: int, session: SessionDep, size: str, lang: str | None, fmt: str) -> Response:
    alert = intake.get_alert(session=session, alert_id=alert_id)
    data, media = service.map_image(alert, size=size, lang=lang, fmt=fmt)
    return Response(data, media_type=media, headers={"Cache-Control": "public, max-age=60"})


@router.get(
    "/api/v1/alerts/{alert_id}/map.png",
    response_class=Response,
    summary="The alert map (PNG)",
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, 404: _PROBLEM, 400: _PROBLEM},
)
def map_png(
    alert_id: int,
    session: SessionDep,
    size: Annotated[str, _SIZE] = "640x480",
    lang: Annotated[str | None, _LANG] = None,
) -> Response:
    """The map exactly as the MMS carries it (PNG unless JPEG is what fits the byte budget)."""
    return _image(alert_id, session, size, lang, "png")


@router.get(
    "/api/v1/alerts/{alert_id}/map.jpg",
    response_class=Response,
    summary="The alert map (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}, 404: _PROBLEM, 400: _PROBLEM},
)
def map_jpg(
    alert_id: int,
    session: SessionDep,
    size: Annotated[str, _SIZE] = "640x480",
    lang: Annotated[str | None, _LANG] = None,
) -> Response:
    """The map as JPEG within the size's byte budget."""
    return _image(alert_id, session, size, lang, "jpg")


@router.get(
    "/api/v1/alerts/{alert_id}/preview",
    responses={404: _PROBLEM},
    summary="What each language receives",
)
def preview(alert_id: int, request: Request, session: SessionDep) -> dict[str, Any]:
    """Text forms (90/360/full) and map URL per language, as subscribers will receive them."""
    alert = intake.get_alert(session=session, alert_id=alert_id)
    return service.preview(alert, base_url=str(request.base_url).rstrip("/"))


@router.get(
    "/a/{short_id}",
    response_class=HTMLResponse,
    include_in_schema=True,
    summary="Public alert page",
)
def alert_page(short_id: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Mobile-first page for an alert's short link: map, text per language, current state."""
    alert = intake.get_by_short_id(session=session, short_id=short_id)
    plan = session.get(DispatchPlan, alert.id)
    data = service.preview(alert, base_url=str(request.base_url).rstrip("/"))
    state = intake.effective_state(alert).value
    return templates.TemplateResponse(
        request,
        "alert_page.html",
        {
            "alert": alert,
            "state": state,
            "preview": data,
            "plan": plan,
            "exercise": alert.status != "Actual",
        },
    )
