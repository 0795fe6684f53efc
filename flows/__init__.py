"""Prefect flows that schedule and trigger model updates.

- :mod:`flows.daily_update`: the ``daily-update`` flow, one task per model, in process or on Dask
- :mod:`flows.adaptation`: the ``adaptation`` flow started by drift events
- :mod:`flows.updates`: the ``update-model`` task and its retry policy
- :mod:`flows.report`: the per-run table artifact and the final flow-run state
- :mod:`flows.events`: the ``online_learning.drift.detected`` event and :func:`emit_drift_event`
- :mod:`flows.jobs`: update jobs (submit, status) for the serving API
- :mod:`flows.deployments`: the deployments of ``prefect.yaml``, for serving
- :mod:`flows.serve`: a local Prefect server and the served deployments (``online-learning up``)
"""
