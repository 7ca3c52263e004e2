"""Free ports for tests: below the kernel's ephemeral range, walked one after the other, held ones skipped."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from patterns.process import FREE_PORTS, _PortWalk, free_port


def test_free_ports_lie_below_the_range_of_outgoing_connections() -> None:
    ephemeral_from = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert FREE_PORTS.stop <= ephemeral_from
    assert free_port() in FREE_PORTS


def test_a_walk_hands_out_each_port_once_per_round_and_skips_held_ones() -> None:
    first = free_port(count=8)  # eight ports nobody else in this test worker is handed
    walk = _PortWalk(range(first, first + 8))
    walk.next = first
    with socket.socket() as held:
        held.bind(("127.0.0.1", first + 1))
        held.listen()
        assert walk.take("127.0.0.1", 1) == first
        assert walk.take("127.0.0.1", 1) == first + 2  # first + 1 is held
        assert walk.take("127.0.0.1", 2) == first + 3  # two in a row
        assert walk.take("127.0.0.1", 3) == first + 5  # the last three
        assert walk.take("127.0.0.1", 1) == first  # round again from the start
        assert walk.take("127.0.0.1", 2) == first + 2  # not across the held one
        with pytest.raises(OSError, match="no 7 free ports in a row"):
            walk.take("127.0.0.1", 7)
