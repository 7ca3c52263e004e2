"""`python -m eventtransactions`: serve the userFeed object on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("eventtransactions.app:app")
