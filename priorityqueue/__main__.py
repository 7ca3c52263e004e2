"""`python -m priorityqueue`: serve `queue` and `myService` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("priorityqueue.app:app")
