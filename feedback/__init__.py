"""Trade outcomes, online models and drift detection."""
