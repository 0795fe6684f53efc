"""Alembic migration environment of the metrics store (run through ``metrics_store.migration``).

This folder and ``versions/`` are packages so that a regular (non-editable) install ships the
revision files along with the library's modules.
"""
