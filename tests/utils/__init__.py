"""Shared test helpers (data builders)."""
