"""Build synthetic CAP 1.2 documents for rule tests (synthetic, not real alerts)."""

from __future__ import annotations

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"

AREA = """<area>
      <areaDesc>Test county</areaDesc>
      {area_extra}
    </area>"""

INFO = """<info>
    <language>{language}</language>
    <category>Met</category>
    <event>Test event</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    {event_codes}
    {times}
    <headline>Test headline</headline>
    {parameters}
    {resources}
    {area}
  </info>"""


def cap_xml(
    *,
    identifier: str = "TEST-1",
    sender: str = "test@example.org",
    sent: str = "2024-05-01T10:00:00-05:00",
    status: str = "Actual",
    msg_type: str = "Alert",
    scope: str = "Public",
    alert_extra: str = "",
    language: str = "en-US",
    event_codes: str = "",
    times: str = "<expires>2024-05-01T12:00:00-05:00</expires>",
    parameters: str = "",
    resources: str = "",
    area_extra: str = "<polygon>38.0,-120.0 38.5,-120.0 38.5,-119.5 38.0,-120.0</polygon>",
    with_area: bool = True,
    with_info: bool = True,
    codes: str = "",
) -> bytes:
    """A CAP 1.2 alert with one info and one area; every part can be overridden."""
    area = AREA.format(area_extra=area_extra) if with_area else ""
    info = (
        INFO.format(
            language=language,
            event_codes=event_codes,
            times=times,
            parameters=parameters,
            resources=resources,
            area=area,
        )
        if with_info
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP12}">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{sent}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>{scope}</scope>
  {codes}
  {alert_extra}
  {info}
</alert>
""".encode()
