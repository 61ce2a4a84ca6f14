"""Deployment targets of generated accelerators."""
