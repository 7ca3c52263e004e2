"""`python -m ratelimit`: serve `limiter` and `myService` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve
from ratelimit.app import app

if __name__ == "__main__":
    serve(app)
