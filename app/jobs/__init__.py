"""Scoring jobs: the Celery app (broker), enqueueing (queue), the task (tasks), the worker, the sweeper."""
