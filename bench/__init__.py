"""Benchmark: the Python services against the same handlers on the TypeScript SDK, on one restate-server."""
