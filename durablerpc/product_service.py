"""The product service: a virtual object, so all calls for one product key run one at a time."""

import restate
from restate import ObjectContext, VirtualObject

from patterns.wire import NoInput, bad_input_is_400

logger = restate.getLogger(__name__)

product = VirtualObject("product", invocation_context_managers=[bad_input_is_400])


@product.handler()
async def reserve(ctx: ObjectContext, _: NoInput) -> bool:
    # Restate runs exclusive handlers of one key one after the other: no lost update, no double booking.
    if await ctx.get("reserved", type_hint=bool):
        logger.info("Product already reserved %s", ctx.key())
        return False
    logger.info("Reserving product %s", ctx.key())
    ctx.set("reserved", True)
    return True
