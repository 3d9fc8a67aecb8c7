"""Factories shared by tests: build real objects the way users do, not stand-ins."""
