"""`python -m webhookcallbacks`: serve the webhook router and the payment tracker on SERVICE_PORT (9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("webhookcallbacks.app:app")
