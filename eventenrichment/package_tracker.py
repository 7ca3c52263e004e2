"""The package tracker: a virtual object per package id, registered over RPC, updated from Kafka."""

from pydantic import Field
from restate import ObjectContext, ObjectSharedContext, TerminalError, VirtualObject
from restate.serde import PydanticJsonSerde

from patterns.wire import CamelModel, NoInput, bad_input_is_400


class LocationUpdate(CamelModel):
    timestamp: str = Field(examples=["2024-10-10 13:00"])
    location: str = Field(examples=["Pinetree Road 5, Paris"])


class PackageInfo(CamelModel):
    final_destination: str
    locations: list[LocationUpdate] = Field(default_factory=list)


# A malformed registration or location update gets a 400 (through Kafka, the record is skipped).
package_tracker = VirtualObject("package-tracker", invocation_context_managers=[bad_input_is_400])

PACKAGE_INFO = "package-info"


@package_tracker.handler("registerPackage")
async def register_package(ctx: ObjectContext, package_info: PackageInfo) -> None:
    ctx.set(PACKAGE_INFO, package_info)


# Called by the Kafka subscription for each record of `package-location-updates` (key = package id).
# Exclusive handler: the updates of one package are applied one at a time, in the order of the topic.
@package_tracker.handler("updateLocation")
async def update_location(ctx: ObjectContext, update: LocationUpdate) -> None:
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
async def get_package_info(ctx: ObjectSharedContext, _: NoInput) -> PackageInfo | None:
    return await ctx.get(PACKAGE_INFO, type_hint=PackageInfo)
