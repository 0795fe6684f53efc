"""Embedded defaults for a laptop or a test run: services started as child processes."""
