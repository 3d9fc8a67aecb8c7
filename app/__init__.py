"""RAIM Arena web service: challenges, submissions, workers, leaderboards and judging."""
