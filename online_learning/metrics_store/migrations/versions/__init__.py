"""Revisions of the metrics store schema, oldest first: ``0001_initial``, ``0002_...``."""
