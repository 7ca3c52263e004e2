"""`python -m bench.serve_python`: the Python benchmark services, served as every pattern is."""

from patterns.serving import serve

if __name__ == "__main__":
    serve("bench.services:app")
