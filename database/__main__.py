"""`python -m database`: serve `simple`, `keyed`, `idempotency` and `twoPhaseCommit` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("database.app:app")
