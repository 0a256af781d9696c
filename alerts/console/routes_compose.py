"""Compose pages: choose status first, write, review in words, confirm, send."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from alerts.access.user_models import CAN_COMPOSE
from alerts.access.users import require_role
from alerts.console import flows, prefill
from alerts.console.capform import LONG_MAX, SHORT_MAX, STATUSES, mark_word
from alerts.console.message_templates import LANGUAGES, TEMPLATES, as_json
from alerts.console.web import CurrentOperator, Operator, check_csrf, redirect, render
from alerts.deps import SessionDep
from alerts.errors import AlertcastError
from alerts.intake import service as intake

router = APIRouter(prefix="/console", include_in_schema=False)


async def read_post(request: Request, op: Operator) -> tuple[dict[str, Any], list[str]]:
    """The posted form (CSRF-checked) as plain strings, plus the picked zones."""
    form = await request.form()
    check_csrf(op.csrf, str(form.get("csrf_token") or request.headers.get("x-csrf-token", "")))
    data = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    zones = [v for v in form.getlist("zones") if isinstance(v, str)]
    return data, zones


def compose_page(
    request: Request, op: Operator, form: dict[str, Any], error: AlertcastError | None = None
) -> Response:
    """The compose form for a chosen status, with any error of the last attempt."""
    return render(
        request,
        "compose.html",
        op,
        status_code=error.status if error else 200,
        mode=form.get("status"),
        form=form,
        error=error,
        languages=LANGUAGES,
        marks={lang: mark_word(str(form.get("status") or "Actual"), lang) for lang in LANGUAGES},
        templates=TEMPLATES,
        templates_json=as_json(),
        short_max=SHORT_MAX,
        long_max=LONG_MAX,
    )


@router.get("/compose", name="console_compose")
def compose(
    request: Request,
    op: CurrentOperator,
    session: SessionDep,
    status: str = "",
    template: str = "",
    action: str = "",
    original: int | None = None,
) -> Response:
    """Step 1 chooses Actual vs Exercise/Test; then the form (optionally prefilled)."""
    require_role(op.user, CAN_COMPOSE, "compose alerts")
    if original is not None and action in prefill.ACTIONS:
        form = prefill.from_alert(intake.get_alert(session=session, alert_id=original), action)
        return compose_page(request, op, form)
    if status not in STATUSES:
        return render(request, "choose_status.html", op, statuses=STATUSES)
    form = {"status": status, "msg_type": "Alert", **prefill.from_template(template)}
    return compose_page(request, op, form)


@router.post("/compose")
async def review(request: Request, op: CurrentOperator, session: SessionDep) -> Response:
    """Step 2: check everything and say in words what is about to happen."""
    require_role(op.user, CAN_COMPOSE, "compose alerts")
    form, zones = await read_post(request, op)
    form["zones"] = zones
    try:
        rv = await flows.review(request, session, op, form, zones)
    except AlertcastError as exc:
        return compose_page(request, op, form, exc)
    form.update(identifier=rv.composed.identifier, sent=rv.composed.sent)
    return render(
        request, "confirm.html", op, mode=rv.composed.status, rv=rv, form=form, languages=LANGUAGES
    )


@router.post("/compose/send")
async def send(request: Request, op: CurrentOperator, session: SessionDep) -> Response:
    """Step 3: the typed confirmation matches; store the CAP alert (and wait for approval)."""
    require_role(op.user, CAN_COMPOSE, "send alerts")
    form, zones = await read_post(request, op)
    form["zones"] = zones
    try:
        alert = await flows.send(request, session, op, form, zones)
    except AlertcastError as exc:
        if any(v.rule == "CONFIRM-MISMATCH" for v in exc.violations):
            rv = await flows.review(request, session, op, form, zones)
            return render(
                request,
                "confirm.html",
                op,
                status_code=400,
                mode=rv.composed.status,
                rv=rv,
                form=form,
                languages=LANGUAGES,
                error=exc,
            )
        return compose_page(request, op, form, exc)
    return redirect(f"/console/alerts/{alert.id}")


@router.post("/compose/edit")
async def edit(request: Request, op: CurrentOperator) -> Response:
    """Back from the confirmation to the form, with everything as it was."""
    require_role(op.user, CAN_COMPOSE, "compose alerts")
    form, zones = await read_post(request, op)
    form["zones"] = zones
    form.pop("identifier", None)
    form.pop("sent", None)
    return compose_page(request, op, form)
