"""Payment state machine: payments made at most once, cancellable before or after, forgotten after expiry."""
