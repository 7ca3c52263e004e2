"""`python -m durablerpc.api`: the HTTP front end (the TypeScript example's Express app), on API_PORT (5000).

    curl -X POST localhost:5000/reserve/product1/reservation1    ->  {"reserved":true}

It forwards each request to the product service through Restate, with the reservation id as the
idempotency key: a retried request gets the first answer back and never reserves twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import restate
from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel

from durablerpc.product_service import reserve
from patterns.serving import serve
from patterns.settings import settings

# Ids end up in Restate URLs and idempotency keys: URL-safe characters, and not `.` or `..` alone (a URL
# path would resolve them).
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9._~-]*[A-Za-z0-9_~-][A-Za-z0-9._~-]*$", max_length=128)]


class Reservation(BaseModel):
    reserved: bool


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with restate.create_client(settings().ingress_url) as client:
        app.state.restate = client
        yield


api = FastAPI(title="durablerpc front end", lifespan=lifespan)


@api.post("/reserve/{product_id}/{reservation_id}")
async def reserve_product(product_id: Id, reservation_id: Id) -> Reservation:
    client: restate.RestateClient = api.state.restate
    try:
        # Durable RPC: once Restate has the request, it runs to completion exactly once per reservation id.
        reserved = await client.object_call(reserve, key=product_id, arg=None, idempotency_key=reservation_id)
    except httpx.TransportError as error:
        raise HTTPException(503, f"Restate is unreachable at {settings().ingress_url}: {error!r}") from error
    except restate.HttpError as error:
        raise HTTPException(502, f"Restate answered {error.status_code}: {error.body}") from error
    return Reservation(reserved=reserved)


if __name__ == "__main__":
    current = settings()
    serve("durablerpc.api:api", host=current.api_host, port=current.api_port)
