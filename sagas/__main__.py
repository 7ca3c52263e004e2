"""`python -m sagas`: serve BookingWorkflow, flights and cars on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("sagas.app:app")
