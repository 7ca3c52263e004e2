"""Event enrichment / joins: a digital twin per package.

    curl  registerPackage {finalDestination} ──────────────┐
                                                           ▼
    Kafka `package-location-updates` ──subscription──► package-tracker/<packageId>   state `package-info`
    package123:{timestamp, location}                   updateLocation: append the location
                                                           │
    curl  getPackageInfo  ◄── shared handler, reads concurrently with the updates

The RPC event and the Kafka events of one package meet in one virtual object (a streaming join): its
state is the enriched view, queryable at any time.
"""

import restate

from eventenrichment.package_tracker import package_tracker

app = restate.app([package_tracker])
