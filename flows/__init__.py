"""Prefect flows that schedule and trigger model updates."""
