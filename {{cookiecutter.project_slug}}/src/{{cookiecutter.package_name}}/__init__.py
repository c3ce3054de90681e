"""The service package: build the application with :func:`create_app`."""

from .app import create_app

__all__ = ["create_app"]
