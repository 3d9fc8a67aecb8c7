"""JSON routes, thin: submissions, leaderboards, organiser tools, judges, campaigns, final results."""
