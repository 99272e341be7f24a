"""Placeholder, see README."""
