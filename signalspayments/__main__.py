"""`python -m signalspayments`: serve the payments service on SERVICE_PORT (default 9080).

Needs STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET (and STRIPE_API_BASE for a local Stripe server): see README.md.
"""

import logging
import sys

from patterns.serving import serve
from signalspayments.stripe_utils import missing_settings

if __name__ == "__main__":
    missing = missing_settings()
    if missing:
        sys.exit(
            f"error: {' and '.join(missing)} not set. For a local Stripe server run `python -m patterns.localstripe`"
            " and export what it prints; for Stripe itself see signalspayments/README.md."
        )
    logging.getLogger("stripe").setLevel(logging.WARNING)  # not two lines per Stripe request
    serve("signalspayments.app:app")
