"""A small client library for durable promises, usable from plain Python and from inside a handler.

    promise = durable_promise("my-promise", "http://localhost:8080")   # over the Restate ingress
    promise = durable_promise("my-promise", ctx)                       # inside a handler, durably

    await promise.peek()            # the value, or None while not completed
    await promise.get()             # wait for the value
    await promise.resolve(value)    # complete it; returns the value that won
    await promise.reject(message)   # fail it; returns the value that won (if a resolve came first)

A rejected promise raises `PromiseRejected` (a TerminalError, so inside a handler it fails the invocation
unless caught) from `get`, `peek`, `resolve` and `reject`.
"""

from __future__ import annotations

from typing import Any

import httpx
from restate import Context, TerminalError

from durablepromise.promises import JSON, Completion, await_, peek, reject, resolve


class PromiseRejected(TerminalError):
    """The promise was rejected, with this message."""


def value_of(completion: Completion | None) -> Any:
    if completion is None:
        return None
    if "error" in completion:
        raise PromiseRejected(completion["error"])
    return completion.get("value")


class DurablePromise:
    """Shared interface of the two flavours."""

    id: str

    async def peek(self) -> Any:
        raise NotImplementedError

    async def get(self) -> Any:
        raise NotImplementedError

    async def resolve(self, value: Any) -> Any:
        raise NotImplementedError

    async def reject(self, message: str) -> Any:
        raise NotImplementedError


class IngressPromise(DurablePromise):
    """Through the `promise` service on the Restate ingress (one HTTP call per operation)."""

    def __init__(self, promise_id: str, ingress_url: str) -> None:
        self.id, self.ingress_url = promise_id, ingress_url.rstrip("/")

    async def _call(self, operation: str, **fields: Any) -> Completion | None:
        # `get` may wait for a long time: no read timeout.
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as http:
            response = await http.post(f"{self.ingress_url}/promise/{operation}", json={"promiseId": self.id, **fields})
        if response.status_code != 200:
            raise TerminalError(f"promise/{operation} answered {response.status_code}: {response.text}")
        completion: Completion | None = response.json()
        return completion

    async def peek(self) -> Any:
        return value_of(await self._call("peek"))

    async def get(self) -> Any:
        return value_of(await self._call("await"))

    async def resolve(self, value: Any) -> Any:
        return value_of(await self._call("resolve", value=value))

    async def reject(self, message: str) -> Any:
        return value_of(await self._call("reject", errorMessage=message))


class ContextPromise(DurablePromise):
    """From inside a handler: calls the `promises` object and waits on an awakeable of this invocation."""

    def __init__(self, promise_id: str, ctx: Context) -> None:
        self.id, self.ctx = promise_id, ctx

    async def peek(self) -> Any:
        return value_of(await self.ctx.object_call(peek, key=self.id, arg=None))

    async def get(self) -> Any:
        awakeable_id, completed = self.ctx.awakeable(serde=JSON)
        await self.ctx.object_call(await_, key=self.id, arg=awakeable_id)
        return value_of(await completed)

    async def resolve(self, value: Any) -> Any:
        return value_of(await self.ctx.object_call(resolve, key=self.id, arg=value))

    async def reject(self, message: str) -> Any:
        return value_of(await self.ctx.object_call(reject, key=self.id, arg=message))


def durable_promise(promise_id: str, ingress_url_or_context: str | Context) -> DurablePromise:
    """A handle on the durable promise `promise_id`, over the ingress (a URL) or from a handler (its context)."""
    if isinstance(ingress_url_or_context, str):
        return IngressPromise(promise_id, ingress_url_or_context)
    return ContextPromise(promise_id, ingress_url_or_context)
