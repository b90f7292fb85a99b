"""Helpers for the store tests: code that runs in child processes."""
