"""`python -m dataupload`: serve the data upload workflow on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("dataupload.app:app")
