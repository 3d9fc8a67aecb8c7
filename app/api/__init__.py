"""JSON API routers: submissions, leaderboards, organiser tools."""
