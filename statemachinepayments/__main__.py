"""`python -m statemachinepayments`: serve `payments` and `accounts` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("statemachinepayments.app:app")
