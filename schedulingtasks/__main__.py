"""`python -m schedulingtasks`: serve the PaymentTracker on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("schedulingtasks.app:app")
