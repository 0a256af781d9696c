"""Agencies, API keys, users and roles."""
