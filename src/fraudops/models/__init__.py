"""Models: training, tuning, evaluation, thresholds, calibration, reason codes, MLflow
tracking set-up and the registry."""
