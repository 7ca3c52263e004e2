"""Event enrichment / joins: a package tracker fed over RPC and by Kafka location events."""

# For `python -m patterns dev`: a Kafka broker, and the subscription of the upstream walkthrough.
NEEDS = ("kafka",)
SUBSCRIPTIONS = {"package-location-updates": "package-tracker/updateLocation"}
