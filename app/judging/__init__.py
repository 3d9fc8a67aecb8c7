"""Blind expert judging of an unpaired final, as rules (no HTTP): finalists, campaigns, trials,
blind images, the final ranking. Its routes are app/api/judge, campaigns, final and app/web/judging."""
