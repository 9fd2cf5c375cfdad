"""Building and retraining models: network description, exporters."""
