"""A team's package of data sources (used by tests/online_learning/test_custom_source.py)."""
