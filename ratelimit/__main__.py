"""`python -m ratelimit`: serve `limiter` and `myService` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("ratelimit.app:app")
