"""The HTTP service: a FastAPI app over one open SearchEngine, and the web page."""

from searchengine.http.app import create_app

__all__ = ["create_app"]
