"""`python -m durablerpc.client --product-id product1 --reservation-id reservation1`

A plain program (no Restate SDK context) calling the product service through the Restate ingress with
an idempotency key: the Go example's client, in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx
import restate

from durablerpc.product_service import reserve
from patterns.settings import settings


async def main(product_id: str, reservation_id: str, ingress_url: str | None = None) -> bool:
    async with restate.create_client(ingress_url or settings().ingress_url) as client:
        reserved: bool = await client.object_call(reserve, key=product_id, arg=None, idempotency_key=reservation_id)
    return reserved


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m durablerpc.client", description=__doc__.splitlines()[0])
    parser.add_argument("--product-id", required=True)
    parser.add_argument("--reservation-id", required=True, help="the idempotency key")
    args = parser.parse_args()
    try:
        reserved = asyncio.run(main(args.product_id, args.reservation_id))
    except httpx.TransportError as error:
        sys.exit(f"error: Restate is unreachable at {settings().ingress_url} ({error!r}); is restate-server running?")
    except restate.HttpError as error:
        sys.exit(f"error: Restate answered {error.status_code}: {error.body}")
    print(json.dumps({"reserved": reserved}))
