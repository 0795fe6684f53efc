"""One router per resource; :data:`ALL` is what :func:`serving.app.create_app` mounts."""

from __future__ import annotations

from serving.routers import (
    auth,
    drift,
    feedback,
    health,
    jobs,
    models,
    predictions,
    sessions,
    success,
)

ALL = (
    health.router,
    auth.router,
    predictions.router,
    models.router,
    jobs.router,
    sessions.router,
    feedback.router,
    drift.router,
    success.router,
)
