"""Payment signals: combine Stripe's fast synchronous answer and its slow webhook in one durable handler."""

# Infrastructure for the dev runner (patterns.extras): a local Stripe API server, and the handler its
# signed webhooks go to (through the Restate ingress).
NEEDS = ("stripe",)
WEBHOOKS = {"stripe": "payments/processWebhook"}
