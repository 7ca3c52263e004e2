"""Stateful actors: a machine operator whose state transitions run one at a time per machine."""
