"""`python -m patterns.produce <topic>`: send `key:value` lines from stdin to a Kafka topic.

What the upstream READMEs do with
`kafka-console-producer --topic <topic> --property parse.key=true --property key.separator=:`,
without Docker and for any broker: the text before the first `:` is the record key (Restate's subscription
turns it into the virtual object key), the rest is the value, sent as is.

    echo 'package123:{"timestamp": "2024-10-10 13:00", "location": "Pinetree Road 5, Paris"}' \\
      | python -m patterns.produce package-location-updates

Interactively, type one record per line and end with Ctrl-D. The broker is $KAFKA_BOOTSTRAP_SERVERS
(default localhost:9092, where both `python -m patterns.kafka` and docker-compose.yml put it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from patterns.kafka import INSTALL_HINT, bootstrap_servers


def parse_line(line: str, separator: str = ":") -> tuple[str, str]:
    """`key:value` -> (key, value); a line without the separator is an error, as in kafka-console-producer."""
    key, found, value = line.partition(separator)
    if not found:
        raise ValueError(f"no key separator {separator!r} found")
    return key, value


def produce(topic: str, lines: Iterable[str | bytes], bootstrap: str, separator: str = ":") -> tuple[int, int]:
    """Send every non-empty line; returns (records acknowledged by the broker, lines that failed).

    Lines read as bytes must be UTF-8 text: any other line is reported and skipped."""
    try:
        from confluent_kafka import Producer
    except ModuleNotFoundError:
        raise SystemExit(f"error: confluent-kafka is not installed: {INSTALL_HINT}") from None

    acked, failed = 0, 0

    def delivered(error: Any, _message: Any) -> None:
        nonlocal acked, failed
        if error is None:
            acked += 1
        else:
            failed += 1
            print(f"error: record not delivered: {error}", file=sys.stderr)

    # acks=all and a bounded delivery timeout: an unreachable broker is an error after 15 s, not a hang.
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 15000})
    for number, raw in enumerate(lines, start=1):
        try:
            text: str = raw.decode() if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as error:
            print(f"error: line {number}: not UTF-8 text ({error.reason} at byte {error.start})", file=sys.stderr)
            failed += 1
            continue
        line = text.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            key, value = parse_line(line, separator)
        except ValueError as error:
            print(f"error: line {number}: {error}: {line!r}", file=sys.stderr)
            failed += 1
            continue
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30):
        failed += 1  # still undelivered
    return acked, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patterns.produce", description=__doc__.split("\n\n")[0])
    parser.add_argument("topic")
    parser.add_argument("--bootstrap-server", default=None, help="host:port (default $KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--key-separator", default=":", help="between key and value (default ':')")
    args = parser.parse_args(argv)
    lines = sys.stdin.buffer  # bytes: a line that is not UTF-8 is an error of that line, not of the program
    acked, failed = produce(args.topic, lines, args.bootstrap_server or bootstrap_servers(), args.key_separator)
    print(f"Produced {acked} record{'' if acked == 1 else 's'} to {args.topic}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
