"""Phone numbers: validation, E.164 normalisation, masking. Numbers never go to logs."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")


class PhoneError(ValueError):
    """A number that is not a valid, dialable phone number."""


def normalise(raw: str, region: str = "US") -> str:
    """Return the E.164 form of a number, or raise PhoneError saying why."""
    text = raw.strip()
    if not text:
        raise PhoneError("phone number is empty")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise PhoneError(f"not a phone number: {exc._msg}") from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneError("wrong number of digits for its country")
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("not an assigned number range for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask(e164: str) -> str:
    """Mask all but the country code and last two digits: +1*******23."""
    if len(e164) < 5:
        return "*" * len(e164)
    try:
        cc = str(phonenumbers.parse(e164).country_code)
    except NumberParseException:
        cc = ""
    head = "+" + cc
    return head + "*" * (len(e164) - len(head) - 2) + e164[-2:]


def check_language(tag: str) -> str:
    """Validate the shape of a BCP 47 language tag and return it."""
    if not _LANG.match(tag):
        raise ValueError(f"{tag!r} is not a BCP 47 language tag")
    return tag
