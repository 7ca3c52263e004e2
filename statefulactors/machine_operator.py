"""The `machineOperator` virtual object: a state machine per machine id, one transition at a time."""

from typing import Literal

from restate import ObjectContext, VirtualObject

from patterns.wire import NoInput, bad_input_is_400
from statefulactors.stubs import bring_up_machine, tear_down_machine

Status = Literal["UP", "DOWN"]

machine_operator = VirtualObject("machineOperator", invocation_context_managers=[bad_input_is_400])


@machine_operator.handler("setUp")
async def set_up(ctx: ObjectContext, _: NoInput) -> str:
    machine_id = ctx.key()
    # Single writer per key: no other handler of this machine runs until this one is done.
    if await ctx.get("status", type_hint=str) == "UP":
        return f"{machine_id} is already up, so nothing to do"
    # Takes a while and may fail halfway; Restate retries it and it resumes from the journal.
    await bring_up_machine(ctx, machine_id)
    status: Status = "UP"
    ctx.set("status", status)
    return f"{machine_id} is now up"


@machine_operator.handler("tearDown")
async def tear_down(ctx: ObjectContext, _: NoInput) -> str:
    machine_id = ctx.key()
    if await ctx.get("status", type_hint=str) != "UP":
        return f"{machine_id} is not up, cannot tear down"
    await tear_down_machine(ctx, machine_id)
    status: Status = "DOWN"
    ctx.set("status", status)
    return f"{machine_id} is now down"
