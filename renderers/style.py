"""Map styling: colour-blind-safe severity palette, basemap colours, map wording per language."""

from __future__ import annotations

from renderers.localtime import base_language

# Severity fills follow Paul Tol's colour-blind-safe schemes; they differ in lightness as well as
# hue, so they stay distinct in deuteranopia/protanopia and in grayscale, and none is close to the
# basemap's blue water.
SEVERITY_FILL = {
    "Extreme": "#882255",
    "Severe": "#CC3311",
    "Moderate": "#EE7733",
    "Minor": "#DDAA33",
    "Unknown": "#777777",
}
SEVERITY_EDGE = {
    "Extreme": "#3d0f26",
    "Severe": "#5c1706",
    "Moderate": "#6b3210",
    "Minor": "#5e4710",
    "Unknown": "#222222",
}
FILL_ALPHA = 0.6

LAND = "#f2efe9"
WATER = "#aacbe4"
COAST = "#6f8ea8"
COUNTY = "#9a948a"
DISTRICT = "#7d776d"
ZONE_LINE = "#3b3b3b"
TEXT_DARK = "#1d1d1d"
TITLE_BG = "#1b2433"
EXERCISE_BG = "#111111"
EXERCISE_FG = "#ffd400"

_WORDS = {
    "en": {
        "issued": "Issued",
        "expires": "Expires",
        "area": "Alert area",
        "zones": "Evacuation zones",
        "exercise": "EXERCISE — NOT A REAL ALERT",
        "test": "TEST — NOT A REAL ALERT",
        "Extreme": "Extreme",
        "Severe": "Severe",
        "Moderate": "Moderate",
        "Minor": "Minor",
        "Unknown": "Unknown",
    },
    "es": {
        "issued": "Emitida",
        "expires": "Vence",
        "area": "Área de alerta",
        "zones": "Zonas de evacuación",
        "exercise": "SIMULACRO — NO ES UNA ALERTA REAL",
        "test": "PRUEBA — NO ES UNA ALERTA REAL",
        "Extreme": "Extrema",
        "Severe": "Grave",
        "Moderate": "Moderada",
        "Minor": "Menor",
        "Unknown": "Desconocida",
    },
}


def severity_key(severity: str) -> str:
    """The CAP severity value normalised to one of the five palette keys."""
    key = (severity or "Unknown").strip().capitalize()
    return key if key in SEVERITY_FILL else "Unknown"


def word(key: str, language: str) -> str:
    """A map word in the given language (English when the language has no translation)."""
    table = _WORDS.get(base_language(language), _WORDS["en"])
    return table.get(key, _WORDS["en"][key])


def band_word(status: str) -> str:
    """Which band a non-Actual status carries: ``test`` for CAP Test, else ``exercise``."""
    return "test" if status.strip().lower() == "test" else "exercise"


def is_exercise(status: str) -> bool:
    """Whether a CAP status must carry the exercise band (anything but Actual)."""
    return status.strip().lower() != "actual"
