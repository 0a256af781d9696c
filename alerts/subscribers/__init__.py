"""Subscribers: phone numbers, languages, locations, consent, import."""
