"""`myService`: an expensive method that runs at most as often as the limiter `myService-expensiveMethod` allows."""

from __future__ import annotations

import restate
from pydantic import Field, RootModel
from restate import Context, Service

from patterns.wire import NoInput, bad_input_is_400
from ratelimit.limiter_client import Limiter

logger = restate.getLogger(__name__)

LIMITER_NAME = "myService-expensiveMethod"


class BatchSize(RootModel[int]):
    root: int = Field(default=20, ge=1)  # a bare number on the wire; no body: 20


my_service = Service("myService", invocation_context_managers=[bad_input_is_400])


@my_service.handler("expensiveMethod")
async def expensive_method(ctx: Context, _: NoInput) -> None:
    limiter = Limiter.from_context(ctx, LIMITER_NAME)
    await limiter.wait()
    logger.info("expensive!")


@my_service.handler("expensiveMethodBatch")
async def expensive_method_batch(ctx: Context, batch_size: BatchSize | None) -> None:
    size = (batch_size or BatchSize()).root
    limiter = Limiter.from_context(ctx, LIMITER_NAME)
    await limiter.wait(size)  # one token per item: a batch larger than the burst is refused (429)
    for _ in range(size):
        logger.info("expensive!")
