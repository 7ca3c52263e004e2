"""`python -m webhookcallbacks`: serve the webhook router and the payment tracker on SERVICE_PORT (9080)."""

from patterns.serving import serve
from webhookcallbacks.app import app

if __name__ == "__main__":
    serve(app)
