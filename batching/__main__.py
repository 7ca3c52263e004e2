"""`python -m batching`: serve `batcher` and `batchReceiver` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("batching.app:app")
