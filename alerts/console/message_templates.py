"""Prepared alert wordings in English and Spanish; ``{area}`` is replaced by the area name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Wording:
    """Short (90) and long (360) text for one language."""

    headline: str
    instruction: str


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """One prepared alert: CAP codes plus wording per language."""

    key: str
    label: str
    event: str
    category: str
    response_type: str
    urgency: str
    severity: str
    certainty: str
    expires_hours: int
    texts: dict[str, Wording]


LANGUAGES = {"en-US": "English", "es-US": "Español"}

TEMPLATES: tuple[MessageTemplate, ...] = (
    MessageTemplate(
        "evacuation_order",
        "Evacuation order",
        "Evacuation Order",
        "Safety",
        "Evacuate",
        "Immediate",
        "Extreme",
        "Observed",
        12,
        {
            "en-US": Wording(
                "EVACUATE NOW: {area}. Leave immediately.",
                "An evacuation order is in effect for {area}. Leave now by the "
                "nearest safe route. Take medicines, documents and pets. Do not "
                "return until officials say it is safe.",
            ),
            "es-US": Wording(
                "EVACÚE AHORA: {area}. Salga de inmediato.",
                "Hay una orden de evacuación para {area}. Salga ahora por la ruta "
                "segura más cercana. Lleve medicinas, documentos y mascotas. No "
                "regrese hasta que las autoridades lo indiquen.",
            ),
        },
    ),
    MessageTemplate(
        "evacuation_warning",
        "Evacuation warning",
        "Evacuation Warning",
        "Safety",
        "Prepare",
        "Expected",
        "Severe",
        "Likely",
        12,
        {
            "en-US": Wording(
                "Evacuation WARNING: {area}. Be ready to leave.",
                "An evacuation warning is in effect for {area}. Prepare to leave: "
                "pack essentials, fuel vehicles, help neighbours. Leave now if you "
                "need extra time.",
            ),
            "es-US": Wording(
                "ADVERTENCIA de evacuación: {area}. Esté listo para salir.",
                "Hay una advertencia de evacuación para {area}. Prepárese para "
                "salir: empaque lo esencial y ayude a sus vecinos. Salga ya si "
                "necesita más tiempo.",
            ),
        },
    ),
    MessageTemplate(
        "shelter_in_place",
        "Shelter in place",
        "Shelter in Place Warning",
        "Safety",
        "Shelter",
        "Immediate",
        "Severe",
        "Observed",
        6,
        {
            "en-US": Wording(
                "SHELTER IN PLACE: {area}. Go indoors now.",
                "Go indoors now in {area}. Close windows and doors, turn off "
                "ventilation, and stay inside until officials give the all clear.",
            ),
            "es-US": Wording(
                "REFÚGIESE EN SU LUGAR: {area}. Entre ahora.",
                "Entre a un edificio ahora en {area}. Cierre puertas y ventanas, "
                "apague la ventilación y permanezca adentro hasta nuevo aviso.",
            ),
        },
    ),
    MessageTemplate(
        "boil_water",
        "Boil water notice",
        "Boil Water Warning",
        "Health",
        "Execute",
        "Expected",
        "Moderate",
        "Likely",
        72,
        {
            "en-US": Wording(
                "Boil water notice: {area}. Boil tap water 1 minute.",
                "Tap water in {area} may be unsafe. Boil it for one minute before "
                "drinking, cooking or brushing teeth, or use bottled water, until "
                "further notice.",
            ),
            "es-US": Wording(
                "Aviso de hervir agua: {area}. Hierva el agua 1 minuto.",
                "El agua del grifo en {area} puede no ser segura. Hiérvala un "
                "minuto antes de beberla o cocinar, o use agua embotellada, hasta "
                "nuevo aviso.",
            ),
        },
    ),
    MessageTemplate(
        "all_clear",
        "All clear",
        "All Clear",
        "Safety",
        "AllClear",
        "Immediate",
        "Minor",
        "Observed",
        6,
        {
            "en-US": Wording(
                "ALL CLEAR: {area}. The danger has passed.",
                "The emergency in {area} is over. You may return or leave shelter. "
                "Follow directions from local officials.",
            ),
            "es-US": Wording(
                "TODO DESPEJADO: {area}. El peligro ha pasado.",
                "La emergencia en {area} terminó. Puede regresar o salir del "
                "refugio. Siga las indicaciones de las autoridades locales.",
            ),
        },
    ),
    MessageTemplate(
        "cancelled",
        "Alert cancelled",
        "Alert Cancelled",
        "Safety",
        "None",
        "Immediate",
        "Minor",
        "Observed",
        6,
        {
            "en-US": Wording(
                "CANCELLED: the alert for {area} is cancelled.",
                "The earlier alert for {area} is cancelled. Follow directions from "
                "local officials.",
            ),
            "es-US": Wording(
                "CANCELADA: la alerta para {area} queda cancelada.",
                "La alerta anterior para {area} queda cancelada. Siga las "
                "indicaciones de las autoridades locales.",
            ),
        },
    ),
    MessageTemplate(
        "false_alarm",
        "False alarm — correction",
        "False Alarm Correction",
        "Safety",
        "None",
        "Immediate",
        "Minor",
        "Observed",
        6,
        {
            "en-US": Wording(
                "FALSE ALARM: the earlier alert for {area} was sent in error.",
                "The earlier emergency alert for {area} was sent in error. There "
                "is NO threat. No action is needed. We apologise.",
            ),
            "es-US": Wording(
                "FALSA ALARMA: la alerta anterior para {area} fue un error.",
                "La alerta de emergencia anterior para {area} se envió por error. "
                "NO hay amenaza. No necesita hacer nada. Pedimos disculpas.",
            ),
        },
    ),
)

BY_KEY = {t.key: t for t in TEMPLATES}


def template(key: str) -> MessageTemplate | None:
    """The template with this key, or None."""
    return BY_KEY.get(key)


def as_json() -> dict[str, object]:
    """Every template as plain data for the compose page's script."""
    return {
        t.key: {
            "label": t.label,
            "event": t.event,
            "category": t.category,
            "response_type": t.response_type,
            "urgency": t.urgency,
            "severity": t.severity,
            "certainty": t.certainty,
            "expires_hours": t.expires_hours,
            "texts": {
                lang: {"headline": w.headline, "instruction": w.instruction}
                for lang, w in t.texts.items()
            },
        }
        for t in TEMPLATES
    }
