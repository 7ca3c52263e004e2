"""Shared tooling for the Restate patterns: settings, serving, the native restate-server launcher,
registration, failure/duration knobs and the ``python -m patterns`` dev runner.

Nothing in here is domain code: every pattern folder stays readable on its own.
"""
