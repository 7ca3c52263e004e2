"""`python -m durablerpc`: serve the product service on SERVICE_PORT (default 9080)."""

from durablerpc.app import app
from patterns.serving import serve

if __name__ == "__main__":
    serve(app)
