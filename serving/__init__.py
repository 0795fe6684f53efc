"""The serving API: predictions, update jobs and dashboards."""
