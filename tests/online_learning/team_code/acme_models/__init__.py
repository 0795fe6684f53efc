"""A team's models, as a team would write them: networks and features of its own (not installed)."""
