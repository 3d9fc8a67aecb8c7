"""Metric computation: image loading, offline weights and the five RAIM metrics (via pyiqa)."""
