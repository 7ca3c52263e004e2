"""A test-only service that calls any handler with any bytes from inside Restate, as a buggy or hostile
handler of the same cluster could: the only way to reach ingress-private handlers."""

from __future__ import annotations

import base64

import restate
from pydantic import BaseModel
from restate import Context, Service, TerminalError

RELAY = "hostileRelay"


class Relayed(BaseModel):
    service: str
    handler: str
    key: str | None = None
    body: str = ""  # base64 of the bytes to send


class Answer(BaseModel):
    status: int
    body: str = ""


relay = Service(RELAY)


@relay.handler()
async def call(ctx: Context, request: Relayed) -> Answer:
    try:
        answer = await ctx.generic_call(
            request.service, request.handler, arg=base64.b64decode(request.body), key=request.key
        )
    except TerminalError as error:
        return Answer(status=error.status_code, body=error.message)
    return Answer(status=200, body=answer.decode(errors="replace"))


app = restate.app([relay])
