"""Blind expert judging of an unpaired final: finalists, campaigns, rating page, final ranking."""
