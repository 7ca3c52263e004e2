"""`python -m eventenrichment`: serve the package-tracker object on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("eventenrichment.app:app")
