"""Scoring: the challenge formula, per-image and mean reports, rankings and subjective aggregation."""
