"""Database interaction patterns on a real PostgreSQL: plain access, journaled reads, per-key versioned
updates, an idempotency-key table, and exactly-once updates through two-phase commit."""

# For `python -m patterns dev`: a PostgreSQL server, which runs `db/*.sql` (schema and seed rows).
NEEDS = ("postgres",)
