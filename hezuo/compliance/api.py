"""REST endpoints of the compliance app (registered on the one router in hezuo/api_urls.py)."""

from __future__ import annotations

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    """Register this app's viewsets."""
