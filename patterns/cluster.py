"""A Restate cluster on one machine: N native restate-server nodes that form one cluster.

    cluster = RestateCluster.on_free_ports(Path("data"), size=3).start()
    cluster.ingress_urls     # every node has an ingress: a client may call any of them
    cluster.kill(0)          # SIGKILL node 1, as a crash would: the others go on
    cluster.restart(0)       # same ports, data folder and node name: it rejoins
    cluster.stop()           # every node, by its PID

No layer of our own: each node is a `RestateServer` (the same binary, from npm) with restate-server's own
cluster settings. Every node runs every role (ingress, admin, worker, log server, metadata server):
- `RESTATE_CLUSTER_NAME` is shared; `RESTATE_NODE_NAME` is `n1`, `n2`, ... and the data of node i lives in
  `<base_dir>/n<i>/n<i>`. A node that was killed rejoins only with the same name and the same data folder:
  started on an empty folder under its old name, it detects its lost log data and exits.
- `RESTATE_METADATA_CLIENT__ADDRESSES` lists every node's address (node-to-node port); node 1 alone has
  `RESTATE_AUTO_PROVISION=true` and creates the cluster, the others join it.
- `RESTATE_DEFAULT_REPLICATION=2`: the log, the metadata and each partition are kept on 2 nodes, so any
  one node of three may be lost. With two of three gone, calls wait (they do not fail or succeed
  wrongly) until one comes back.

Health is not readiness: a node's `/health` answers before its partitions have a leader (about 5 s later
with the default `gossip-suspect-interval`), and it still answers when a majority of the cluster is gone.
`wait_ready()` waits for what a call needs: the admin SQL API (`/query`) answers once every partition runs.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from patterns.httpclient import http
from patterns.process import free_port, wait_until
from patterns.restate_server import RestateServer

CLUSTER_NAME = "patterns"
REPLICATION = 2

# For tests: a (re)started node is trusted after 1 s instead of 5 s (the cluster is ready about 4 s sooner),
# and after a quorum loss the log retries its appends at least every 3 s instead of backing off up to a
# minute (measured: progress resumed 36 s after a node came back with the default, 0.3 s with this).
FAST_RECOVERY = {
    "RESTATE_GOSSIP_SUSPECT_INTERVAL": "1s",
    "RESTATE_BIFROST__REPLICATED_LOGLET__STORE_TIMEOUT": "250ms..3s",
}
_LEADERS = re.compile(r"^restate_num_active_partition_leaders\{[^}]*\} (\d+)", re.MULTILINE)


def node_settings(index: int, fabric_addresses: Sequence[str], replication: int = REPLICATION) -> dict[str, str]:
    """restate-server environment for node `index` (0-based) of a cluster whose nodes listen on `fabric_addresses`."""
    return {
        "RESTATE_CLUSTER_NAME": CLUSTER_NAME,
        "RESTATE_NODE_NAME": f"n{index + 1}",
        "RESTATE_ADVERTISED_ADDRESS": fabric_addresses[index],
        "RESTATE_METADATA_CLIENT__ADDRESSES": json.dumps(list(fabric_addresses)),
        "RESTATE_AUTO_PROVISION": "true" if index == 0 else "false",
        "RESTATE_DEFAULT_REPLICATION": str(replication),
    }


def query_answers(admin_url: str) -> bool:
    """The admin SQL API answers a query over the invocations: every partition has a running processor."""
    response = http.post(
        f"{admin_url}/query",
        json={"query": "select count(*) as n from sys_invocation"},
        headers={"accept": "application/json"},
        timeout=5,
    )
    return response.status_code == 200


@dataclass
class RestateCluster:
    nodes: list[RestateServer]
    down: set[int] = field(default_factory=set)  # indexes of nodes killed or stopped on purpose

    @classmethod
    def create(
        cls,
        base_dir: Path,
        ports: Sequence[tuple[int, int, int]],
        settings: Mapping[str, str] | None = None,
        replication: int = REPLICATION,
        host: str = "127.0.0.1",
    ) -> RestateCluster:
        """One node per (ingress, admin, node-to-node) port triple; `settings` go to every node."""
        fabric = [f"http://{host}:{node_port}" for _, _, node_port in ports]
        nodes = [
            RestateServer(
                base_dir / f"n{i + 1}",
                ingress,
                admin,
                node_port,
                host,
                settings={**(settings or {}), **node_settings(i, fabric, replication)},
            )
            for i, (ingress, admin, node_port) in enumerate(ports)
        ]
        return cls(nodes)

    @classmethod
    def on_free_ports(cls, base_dir: Path, size: int = 3, settings: Mapping[str, str] | None = None) -> RestateCluster:
        return cls.create(base_dir, [(free_port(), free_port(), free_port()) for _ in range(size)], settings)

    @classmethod
    def on_ports_from(
        cls, base_dir: Path, size: int, first: tuple[int, int, int], settings: Mapping[str, str] | None = None
    ) -> RestateCluster:
        """Node 1 on the `first` (ingress, admin, node-to-node) ports, the next nodes on the ports that follow
        (8080/9070/5122, then 8081/9071/5123...)."""
        ingress, admin, node = first
        return cls.create(base_dir, [(ingress + i, admin + i, node + i) for i in range(size)], settings)

    # -- what clients see ---------------------------------------------------------------------------
    @property
    def ingress_urls(self) -> list[str]:
        return [node.ingress_url for node in self.nodes]

    @property
    def admin_urls(self) -> list[str]:
        return [node.admin_url for node in self.nodes]

    @property
    def alive(self) -> list[int]:
        return [i for i in range(len(self.nodes)) if i not in self.down]

    def name(self, index: int) -> str:
        return f"n{index + 1}"

    # -- start, wait, stop ----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> RestateCluster:
        """Spawn every node (the others join the cluster node 1 provisions), then wait until the cluster serves."""
        started = time.monotonic()
        try:
            for node in self.nodes:
                node.start(timeout, wait=False)
            for node in self.nodes:
                assert node.process is not None
                node.process.wait_ready(timeout - (time.monotonic() - started))
            self.down.clear()
            self.wait_ready(timeout - (time.monotonic() - started))
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 60.0, nodes: Sequence[int] | None = None) -> None:
        """The running nodes (or `nodes`) answer admin SQL over every partition (see the module docstring)."""
        for index in self.alive if nodes is None else nodes:
            node = self.nodes[index]
            wait_until(
                partial(query_answers, node.admin_url),
                f"cluster node {self.name(index)} ({node.admin_url})",
                max(timeout, 1.0),
                see=node.log_tail,
            )

    def kill(self, index: int) -> None:
        """SIGKILL one node, as a crash would."""
        self.down.add(index)
        self.nodes[index].kill()

    def stop_node(self, index: int) -> None:
        """SIGTERM one node (a clean shutdown)."""
        self.down.add(index)
        self.nodes[index].stop()

    def restart(self, index: int, timeout: float = 60.0) -> None:
        """Start a killed or stopped node again (same ports, data folder, name) and wait until it serves."""
        self.nodes[index].stop()  # closes what is left of the previous run
        self.nodes[index].start(timeout)
        self.down.discard(index)
        self.wait_ready(timeout, [index])

    def heal(self, timeout: float = 60.0) -> None:
        """Restart every node that is down."""
        for index in sorted(self.down):
            self.restart(index, timeout)

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(), self.nodes))
        self.down = set(range(len(self.nodes)))

    def leaders(self) -> list[int]:
        """The running nodes that lead at least one partition (from each node's Prometheus metrics)."""
        found = []
        for index in self.alive:
            node = self.nodes[index]
            metrics = http.get(f"http://{node.host}:{node.node_port}/metrics", timeout=5).text
            if any(int(count) > 0 for count in _LEADERS.findall(metrics)):
                found.append(index)
        return found

    def leader(self, timeout: float = 30.0) -> int:
        """A running node that leads a partition, once one does (an election, or a move, takes a moment)."""
        deadline = time.monotonic() + timeout
        while not (found := self.leaders()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no running node leads a partition after {timeout:.0f}s")
            time.sleep(0.2)
        return found[0]

    def __enter__(self) -> RestateCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_NO_BODY: Any = object()


def call_any(
    ingress_urls: Sequence[str],
    path: str,
    *,
    idempotency_key: str,
    json: Any = _NO_BODY,
    first: int = 0,
    timeout: float = 10.0,
    give_up_after: float = 90.0,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST `path` (e.g. `/accounts/a1/deposit`) to the ingress of node `first`; when that node does not answer
    (connection refused or cut, nothing within `timeout` seconds), send the same request with the same
    idempotency key to the next node, and so on. Restate runs a request once per idempotency key: a retry
    of a request that did reach a node gets that invocation's result, it does not run it again."""
    deadline = time.monotonic() + give_up_after
    headers = {"idempotency-key": idempotency_key}
    body = {} if json is _NO_BODY else {"json": json}  # a handler without input takes no body at all
    http = client or httpx.Client()
    try:
        for attempt in itertools.count():
            url = ingress_urls[(first + attempt) % len(ingress_urls)] + path
            try:
                return http.post(url, headers=headers, timeout=timeout, **body)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5 if (attempt + 1) % len(ingress_urls) == 0 else 0.05)  # a pause after each round
        raise AssertionError("unreachable")
    finally:
        if client is None:
            http.close()
