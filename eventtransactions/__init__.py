"""Transactional event processing: Kafka posts -> the `userFeed` virtual object, one queue per user."""

# For `python -m patterns dev`: a Kafka broker, and the subscription of the upstream walkthrough.
NEEDS = ("kafka",)
SUBSCRIPTIONS = {"social-media-posts": "userFeed/processPost"}
