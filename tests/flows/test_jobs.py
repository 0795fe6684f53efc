"""The job API's validation and lookups (the end-to-end job is in test_served.py)."""

from __future__ import annotations

import uuid

import pytest

from flows.jobs import JobNotFoundError, get_job, job_parameters
from online_learning.errors import ConfigError


def test_job_parameters_are_validated_before_anything_is_submitted():
    assert job_parameters("bull_specialist", {"learning_rate": 1e-4, "as_of": "2022-06-30"}) == {
        "model_ids": ["bull_specialist"],
        "learning_rate": 1e-4,
        "as_of": "2022-06-30",
    }
    with pytest.raises(ConfigError, match="unknown update parameter"):
        job_parameters("bull_specialist", {"learning_rat": 1e-4})
    with pytest.raises(ConfigError, match="data_window must be between 30 and 90"):
        job_parameters("bull_specialist", {"data_window_days": 7})
    with pytest.raises(ConfigError, match="as_of must be an ISO date"):
        job_parameters("bull_specialist", {"as_of": "yesterday"})
    with pytest.raises(ConfigError, match="stability_check"):
        job_parameters("bull_specialist", {"stability_check": "maybe"})
    with pytest.raises(ConfigError, match="model_id"):
        job_parameters("no such model!", {})


def test_unknown_jobs_are_not_found(prefect_api):
    with pytest.raises(JobNotFoundError):
        get_job("not-a-uuid")
    with pytest.raises(JobNotFoundError):
        get_job(str(uuid.uuid4()))
