"""Opens one change context per request: the user, one request id, and the source."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import change_context


class ChangeContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = "api" if request.path.startswith("/api/") else "web"
        with change_context(user=None, source=source) as ctx:
            request.change_context = ctx  # type: ignore[attr-defined]
            response = self.get_response(request)
        response["X-Request-Id"] = str(ctx.request_id)
        return response
