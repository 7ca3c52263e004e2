"""`python -m durablepromise`: serve `promises`, `promise` and `qna` on SERVICE_PORT (default 9080)."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("durablepromise.app:app")
