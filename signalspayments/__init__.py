"""Payment signals: combine Stripe's fast synchronous answer and its slow webhook in one durable handler."""

# Infrastructure for the dev runner (patterns.extras): a local Stripe API server that sends the webhooks.
NEEDS = ("stripe",)
