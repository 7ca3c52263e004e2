"""`python -m durablerpc`: serve the product service on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("durablerpc.app:app")
