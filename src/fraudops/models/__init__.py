"""Models: training, tuning, evaluation, thresholds, calibration and the registry."""
