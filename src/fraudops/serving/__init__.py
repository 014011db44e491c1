"""Real-time and batch scoring: a FastAPI service over ``ScoringService``."""
