"""Decisions beyond the model: lists, rules and the policy that combines them with the
model's thresholds (allow list -> block list -> active rules -> thresholds)."""

from pathlib import Path

# the rules file users start from, shipped with the package (the demo decides with it)
EXAMPLE_RULES = Path(__file__).with_name("example_rules.yaml")
