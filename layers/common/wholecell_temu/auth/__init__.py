"""Temu seller authorization: signed state, code exchange, token storage."""
