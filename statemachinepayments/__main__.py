"""`python -m statemachinepayments`: serve `payments` and `accounts` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve
from statemachinepayments.app import app

if __name__ == "__main__":
    serve(app)
