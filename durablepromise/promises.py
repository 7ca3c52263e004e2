"""Durable promises as a service: the `promises` virtual object and the `promise` front service.

A completion is `{"value": ...}` or `{"error": "..."}`. The first resolve/reject wins; later ones return it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

import restate
from pydantic import Field, Strict
from restate import Context, ObjectContext, ObjectSharedContext, Service, VirtualObject
from restate.serde import Serde

from patterns.wire import AwakeableId, CamelModel, Key, NoInput, bad_input_is_400

logger = restate.getLogger(__name__)


class Completion(TypedDict, total=False):
    value: Any
    error: str


class Json(Serde[Any]):
    """Plain JSON both ways, `null` included (the default serde sends an empty body for None)."""

    def deserialize(self, buf: bytes) -> Any:
        return json.loads(buf) if buf else None

    def serialize(self, obj: Any) -> bytes:
        return json.dumps(obj).encode()


JSON = Json()

# --- the promise itself: one virtual object per promise id ------------------------------------------------

# Called by the `promise` front service and by the client library from inside handlers, never through the
# ingress: a listener id from outside could be anything, and the promise has to resolve every listener.
promises = VirtualObject("promises", ingress_private=True, invocation_context_managers=[bad_input_is_400])


@promises.handler(input_serde=JSON, output_serde=JSON)
async def resolve(ctx: ObjectContext, value: Any) -> Completion:
    return await complete(ctx, Completion(value=value))


@promises.handler(input_serde=JSON, output_serde=JSON)
async def reject(ctx: ObjectContext, error_message: Annotated[str, Strict()]) -> Completion:
    return await complete(ctx, Completion(error=error_message))


@promises.handler(kind="shared", output_serde=JSON)
async def peek(ctx: ObjectSharedContext, _: NoInput) -> Completion | None:
    return await ctx.get("value", type_hint=Completion)


@promises.handler("await", input_serde=JSON, output_serde=JSON)
async def await_(ctx: ObjectContext, awakeable_id: AwakeableId) -> Completion | None:
    """Register a listener (an awakeable of the caller); completed promises answer it at once."""
    completion = await ctx.get("value", type_hint=Completion)
    if completion is not None:
        ctx.resolve_awakeable(awakeable_id, completion)
        return completion
    listeners = await ctx.get("listeners", type_hint=list[str]) or []
    ctx.set("listeners", [*listeners, awakeable_id])
    return None


@promises.handler()
async def dispose(ctx: ObjectContext, _: NoInput) -> None:
    for listener in await ctx.get("listeners", type_hint=list[str]) or []:
        ctx.reject_awakeable(listener, "promise was disposed")
    ctx.clear("listeners")
    ctx.clear("value")


async def complete(ctx: ObjectContext, completion: Completion) -> Completion:
    # First completion wins: later resolves and rejects get the stored completion back (idempotent).
    stored = await ctx.get("value", type_hint=Completion)
    if stored is not None:
        return stored
    ctx.set("value", completion)
    for listener in await ctx.get("listeners", type_hint=list[str]) or []:
        ctx.resolve_awakeable(listener, completion)
    ctx.clear("listeners")
    logger.info("Promise %s completed with %s", ctx.key(), json.dumps(completion))
    return completion


# --- the front service: one blocking HTTP call per operation ----------------------------------------------


class PromiseRequest(CamelModel):
    promise_id: Key = Field(examples=["prom-1"])


class ResolveRequest(PromiseRequest):
    value: Any = None  # without a value, the promise resolves with null (as the TypeScript service does)


class RejectRequest(PromiseRequest):
    error_message: str = Field(examples=["help!"])


promise = Service("promise", invocation_context_managers=[bad_input_is_400])


@promise.handler("resolve", output_serde=JSON)
async def resolve_promise(ctx: Context, request: ResolveRequest) -> Completion:
    return await ctx.object_call(resolve, key=request.promise_id, arg=request.value)


@promise.handler("reject", output_serde=JSON)
async def reject_promise(ctx: Context, request: RejectRequest) -> Completion:
    return await ctx.object_call(reject, key=request.promise_id, arg=request.error_message)


@promise.handler("peek", output_serde=JSON)
async def peek_promise(ctx: Context, request: PromiseRequest) -> Completion | None:
    return await ctx.object_call(peek, key=request.promise_id, arg=None)


@promise.handler("await", output_serde=JSON)
async def await_promise(ctx: Context, request: PromiseRequest) -> Completion:
    """Block until the promise is completed (durably: this invocation suspends while it waits)."""
    awakeable_id, completed = ctx.awakeable(serde=JSON)
    await ctx.object_call(await_, key=request.promise_id, arg=awakeable_id)
    completion: Completion = await completed
    return completion


@promise.handler("dispose")
async def dispose_promise(ctx: Context, request: PromiseRequest) -> None:
    await ctx.object_call(dispose, key=request.promise_id, arg=None)
