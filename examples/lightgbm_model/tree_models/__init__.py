"""The example team's features for its tree models."""
