"""The part of a Stripe event the router and the tracker read (Stripe sends many more fields; they are kept)."""

from pydantic import ConfigDict

from patterns.wire import CamelModel, Key


class StripeObject(CamelModel):
    model_config = ConfigDict(extra="allow")

    id: Key  # for invoice.* events: the invoice id, the key of its PaymentTracker
    customer: str | None = None


class StripeEventData(CamelModel):
    model_config = ConfigDict(extra="allow")

    object: StripeObject


class StripeEvent(CamelModel):
    model_config = ConfigDict(extra="allow")

    id: str  # the event id: send it as idempotency-key, Stripe may deliver an event more than once
    type: str
    created: int
    data: StripeEventData
