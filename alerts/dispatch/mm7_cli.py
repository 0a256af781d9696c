"""Operator commands for MM7 links: `alertcast mm7 send ...` and `alertcast mmsc-sim ...`.

`mm7_app` and `mmsc_sim` are mounted in the main CLI (`alerts/cli.py`). `mm7 send` builds its
SubmitReq with the same connector code dispatch uses, so a green `mm7 send` means the link
accepts what dispatch will send.
"""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError

from alerts.dispatch.connectors.base import Address, Priority, SubmitRequest, SubmitResult
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client
from alerts.dispatch.connectors.mm7_xml import (
    REL6_NS,
    REL6_VERSION,
)
from renderers.mms import MmsContent, MmsPart

mm7_app = typer.Typer(help="Test an MMSC link over MM7.", no_args_is_help=True)


@mm7_app.callback()
def mm7() -> None:
    """Test an MMSC link over MM7 (a group, so `mm7 send` keeps its name)."""


_SMIL = (
    '<smil><head><layout><root-layout width="320" height="480"/>'
    '<region id="Image" top="0" left="0" width="320" height="320" fit="meet"/>'
    '<region id="Text" top="320" left="0" width="320" height="160" fit="scroll"/>'
    '</layout></head><body><par dur="10s">{img}{text}</par></body></smil>'
)


def link_test_content(
    text: str, image: bytes | None = None, image_type: str = "image/png"
) -> MmsContent:
    """A small SMIL + image + text MMS for testing a link."""
    img = '<img src="cid:image" region="Image"/>' if image is not None else ""
    smil = _SMIL.format(img=img, text='<text src="cid:text" region="Text"/>')
    parts = [MmsPart('application/smil; charset="utf-8"', "smil", smil.encode())]
    if image is not None:
        parts.append(MmsPart(image_type, "image", image, "image" + _suffix(image_type)))
    parts.append(MmsPart('text/plain; charset="utf-8"', "text", text.encode(), "text.txt"))
    return MmsContent(tuple(parts))


def _suffix(media_type: str) -> str:
    return mimetypes.guess_extension(media_type) or ".bin"


def _print_result(result: SubmitResult) -> None:
    typer.echo(f"status: {result.status_code}")
    typer.echo(f"text: {result.status_text}")
    typer.echo(f"message_id: {result.message_id or '-'}")
    typer.echo(f"http_status: {result.http_status if result.http_status is not None else '-'}")
    typer.echo(f"classification: {result.classification.value}")


async def _send(config: Mm7Config, request: SubmitRequest) -> SubmitResult:
    async with mm7_client(config, max_connections=1) as client:
        return await Mm7Connector(config, client).submit(request)


@mm7_app.command("send")
def send(
    url: Annotated[str, typer.Option(help="MMSC MM7 URL")],
    to: Annotated[list[str], typer.Option(help="recipient number (E.164); repeatable")],
    text: Annotated[str, typer.Option(help="message text")] = "alertcast MM7 link test",
    image: Annotated[Path | None, typer.Option(help="image file to attach", exists=True)] = None,
    subject: Annotated[str, typer.Option(help="MMS subject")] = "alertcast test",
    mm7_version: Annotated[str, typer.Option("--mm7-version", help="MM7Version")] = REL6_VERSION,
    namespace: Annotated[str, typer.Option(help="MM7 namespace")] = REL6_NS,
    user: Annotated[str | None, typer.Option(help="HTTP basic user")] = None,
    password: Annotated[
        str | None, typer.Option(help="HTTP basic password", envvar="ALERTCAST_MM7_PASSWORD")
    ] = None,
    vaspid: Annotated[str | None, typer.Option(help="VASPID")] = None,
    vasid: Annotated[str | None, typer.Option(help="VASID")] = None,
    sender: Annotated[str | None, typer.Option(help="sender short code")] = None,
    service_code: Annotated[str | None, typer.Option(help="ServiceCode")] = None,
    soap_action: Annotated[str, typer.Option(help="SOAPAction header value")] = "",
    insecure: Annotated[bool, typer.Option(help="skip TLS verification")] = False,
    timeout: Annotated[float, typer.Option(help="read timeout, seconds")] = 30.0,
) -> None:
    """Send one SubmitReq exactly as dispatch builds it; exit 0 on 1000/1100, 1 otherwise."""
    try:
        config = Mm7Config(
            url=url,
            username=user,
            password=SecretStr(password) if password is not None else None,
            namespace=namespace,
            mm7_version=mm7_version,
            vaspid=vaspid,
            vasid=vasid,
            sender_address=sender,
            service_code=service_code,
            soap_action=soap_action,
            tls_verify=not insecure,
            read_timeout_s=timeout,
            max_recipients=max(1, len(to)),
            split_on_3003=False,
        )
    except ValidationError as exc:
        typer.echo(f"invalid link settings: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    data = image.read_bytes() if image else None
    media_type = (mimetypes.guess_type(image.name)[0] if image else None) or "image/png"
    request = SubmitRequest(
        transaction_id=f"cli-{uuid.uuid4().hex[:16]}",
        recipients=tuple(Address(number) for number in to),
        content=link_test_content(text, data, media_type),
        subject=subject,
        priority=Priority.NORMAL,
        timestamp=datetime.now(UTC),
    )
    result = asyncio.run(_send(config, request))
    _print_result(result)
    raise typer.Exit(0 if result.status_code in (1000, 1100) else 1)


def mmsc_sim(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8100,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    vasp_url: Annotated[str | None, typer.Option(help="where to POST delivery reports")] = None,
    vasp_user: Annotated[str | None, typer.Option(help="HTTP basic user for reports")] = None,
    vasp_password: Annotated[
        str | None,
        typer.Option(help="HTTP basic password for reports", envvar="ALERTCAST_VASP_PASSWORD"),
    ] = None,
    dr_delay: Annotated[float, typer.Option(help="delivery report delay, seconds (<= 2)")] = 0.5,
    max_recipients: Annotated[int, typer.Option(help="recipients per SubmitReq before 3003")] = 100,
    error_rate: Annotated[float, typer.Option(help="share of submits answered 4006")] = 0.0,
    throttle_rps: Annotated[float | None, typer.Option(help="answer 4006 above this rate")] = None,
    throttle_response: Annotated[
        str, typer.Option(help="answer above --throttle-rps: 4006 or 503")
    ] = "4006",
    latency_ms: Annotated[float, typer.Option(help="mean SubmitReq answer latency, ms")] = 0.0,
    latency_distribution: Annotated[
        str, typer.Option(help="latency: fixed, uniform or exponential")
    ] = "fixed",
    outage: Annotated[
        list[str] | None,
        typer.Option(help="START:END seconds after start answered 503; repeatable"),
    ] = None,
    store_limit: Annotated[int, typer.Option(help="messages kept for /api/messages")] = 1000,
    dr_max_in_flight: Annotated[
        int, typer.Option(help="delivery reports pending at once before dropping")
    ] = 2_000_000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
) -> None:
    """Run the MMSC simulator (MM7 endpoint at /mm7, messages page at /)."""
    import uvicorn

    from alerts.mmsc import SimulatorConfig, create_simulator_app
    from alerts.mmsc.config import Faults, ReportPlan

    config = SimulatorConfig(
        vasp_url=vasp_url,
        vasp_username=vasp_user,
        vasp_password=SecretStr(vasp_password) if vasp_password else None,
        max_recipients=max_recipients,
        store_limit=store_limit,
        reports=ReportPlan(delay_s=dr_delay, max_in_flight=dr_max_in_flight),
        faults=Faults.model_validate(
            {
                "error_rates": {4006: error_rate} if error_rate else {},
                "throttle_rps": throttle_rps,
                "throttle_response": throttle_response,
                "latency_ms": latency_ms,
                "latency_distribution": latency_distribution,
                "outages": [_window(w) for w in outage or ()],
            }
        ),
    )
    uvicorn.run(create_simulator_app(config), host=host, port=port, log_level=log_level, ws="none")


def _window(text: str) -> tuple[float, float]:
    """``START:END`` (seconds after the simulator started) as a pair of floats."""
    start, _, end = text.partition(":")
    try:
        return float(start), float(end)
    except ValueError:
        raise typer.BadParameter(f"outage {text!r} is not START:END in seconds") from None


__all__ = ["link_test_content", "mm7_app", "mmsc_sim"]
