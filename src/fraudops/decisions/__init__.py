"""Decisions beyond the model: lists, rules and the policy that combines them with the
model's thresholds (allow list -> block list -> active rules -> thresholds)."""
