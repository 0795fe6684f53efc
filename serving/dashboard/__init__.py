"""The adaptation dashboard: a page at ``/dashboard`` over the serving API and its streams.

The page and its vendored chart library (uPlot) ship as package data under ``static/``; the page
talks only to the API it is served by (HTTP under ``/api/v1`` and the per-symbol WebSocket
streams) and loads nothing from any other host.
"""

from serving.dashboard.router import CONTENT_SECURITY_POLICY, router

__all__ = ["CONTENT_SECURITY_POLICY", "router"]
