"""Functional tests: real processes against real SQLite and PostgreSQL databases."""
