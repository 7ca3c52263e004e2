"""`python -m queue` (from the repository root): serve the task worker on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

from .app import app

if __name__ == "__main__":
    serve(app)
