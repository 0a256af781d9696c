"""Zones and targeting over HTTP: geo's zone registry, the subscriber index, previews."""
