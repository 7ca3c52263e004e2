"""Rate limiting: a token bucket in virtual-object state; handlers wait (durably) for their turn."""
