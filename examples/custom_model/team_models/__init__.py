"""An example team's models for the online-learning platform: a GRU over sequences of its own
momentum features, predicting tomorrow's direction of four large US stocks."""
