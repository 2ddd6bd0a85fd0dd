"""Placeholder."""
CLAIMS = []
