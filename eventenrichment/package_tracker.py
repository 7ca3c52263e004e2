"""The package tracker: a virtual object per package id, registered over RPC, updated from Kafka."""

from typing import Any, TypeVar

from pydantic import Field, ValidationError
from restate import ObjectContext, ObjectSharedContext, TerminalError, VirtualObject
from restate.serde import PydanticJsonSerde

from patterns.wire import CamelModel


class LocationUpdate(CamelModel):
    timestamp: str
    location: str


class PackageInfo(CamelModel):
    final_destination: str
    locations: list[LocationUpdate] = Field(default_factory=list)


M = TypeVar("M", bound=CamelModel)


def parse(model: type[M], value: Any) -> M:
    """Validated here, not by the SDK, so that malformed input gets a 400 instead of a 500."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise TerminalError(f"Invalid {model.__name__}: {error}", status_code=400) from None


package_tracker = VirtualObject("package-tracker")

PACKAGE_INFO = "package-info"


@package_tracker.handler("registerPackage")
async def register_package(ctx: ObjectContext, package_info: dict[str, Any]) -> None:
    ctx.set(PACKAGE_INFO, parse(PackageInfo, package_info))


# Called by the Kafka subscription for each record of `package-location-updates` (key = package id).
# Exclusive handler: the updates of one package are applied one at a time, in the order of the topic.
@package_tracker.handler("updateLocation")
async def update_location(ctx: ObjectContext, location_update: dict[str, Any]) -> None:
    update = parse(LocationUpdate, location_update)
    package_info = await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
    if package_info is None:
        # Terminal: retrying cannot help. On Kafka the record is skipped and the next one processed.
        raise TerminalError(f"Package {ctx.key()} not found", status_code=404)
    package_info.locations.append(update)
    ctx.set(PACKAGE_INFO, package_info)


class PackageInfoOrNull(PydanticJsonSerde[PackageInfo]):
    """JSON `null` for an unknown package, as the TypeScript example answers (the SDK sends an empty body)."""

    def serialize(self, obj: PackageInfo | None) -> bytes:
        return b"null" if obj is None else super().serialize(obj)


# Shared: reads run concurrently with the exclusive updates and never queue behind them.
@package_tracker.handler("getPackageInfo", kind="shared", output_serde=PackageInfoOrNull(PackageInfo))
async def get_package_info(ctx: ObjectSharedContext) -> PackageInfo | None:
    return await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
