"""`python -m bench.serve_python`: the Python benchmark services, served as every pattern is."""

from bench.services import app
from patterns.serving import serve

if __name__ == "__main__":
    serve(app)
