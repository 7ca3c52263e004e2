"""`python -m queue` (from the repository root): serve the task worker on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("queue.app:app")
