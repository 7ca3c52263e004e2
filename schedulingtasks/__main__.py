"""`python -m schedulingtasks`: serve the PaymentTracker on SERVICE_PORT (default 9080)."""

from patterns.serving import serve
from schedulingtasks.app import app

if __name__ == "__main__":
    serve(app)
