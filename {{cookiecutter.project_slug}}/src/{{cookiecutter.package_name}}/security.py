"""HTTP hardening: security headers on every response, CORS, which proxies to believe, and no
cookie sessions."""

from __future__ import annotations

from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from quart import Quart, Response
from quart.sessions import SessionInterface, SessionMixin
from quart.wrappers import BaseRequestWebsocket
from quart_cors import cors
from werkzeug.wrappers import Response as ResponseBase

from .config import Settings

# A JSON API loads nothing and may be framed by nobody.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The docs page (development only) loads Swagger UI from its CDN and starts it inline.
DOCS_PATH = "/docs"
DOCS_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; connect-src 'self'; img-src 'self' data:; "
    "script-src https://cdnjs.cloudflare.com 'unsafe-inline'; style-src https://cdnjs.cloudflare.com"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
CORS_MAX_AGE_SECONDS = 600
CACHE_CONTROL = b"cache-control"
NO_STORE = (CACHE_CONTROL, b"no-store")

RawHeaders = tuple[tuple[bytes, bytes], ...]


def docs_path(settings: Settings) -> str | None:
    """Where the interactive docs page is served, if it is."""
    return DOCS_PATH if settings.docs_enabled else None


def _encode(headers: dict[str, str]) -> RawHeaders:
    return tuple((name.lower().encode(), value.encode()) for name, value in headers.items())


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response the app sends, errors
    included, and ``Cache-Control: no-store`` on those that set no caching of their own.

    The headers are encoded once and appended to the response as it leaves: werkzeug's
    ``Headers`` would look each one up, set it and encode it again on every request.
    """

    def __init__(self, app: ASGIFramework, settings: Settings) -> None:
        common = dict(SECURITY_HEADERS)
        if settings.hsts_seconds:
            hsts = f"max-age={settings.hsts_seconds}; includeSubDomains"
            common["Strict-Transport-Security"] = hsts
        self.app = app
        self.docs_path = docs_path(settings)
        self.api_headers = _encode({**common, "Content-Security-Policy": API_POLICY})
        self.docs_headers = _encode({**common, "Content-Security-Policy": DOCS_POLICY})

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope["path"] == self.docs_path else self.api_headers

        async def send_hardened(event: ASGISendEvent) -> None:
            if event["type"] == "http.response.start":
                own = list(event["headers"])
                caching = () if any(name == CACHE_CONTROL for name, _ in own) else (NO_STORE,)
                event = {**event, "headers": [*own, *extra, *caching]}
            await send(event)

        await self.app(scope, receive, send_hardened)


class NoSessions(SessionInterface):
    """This API keeps no state in cookies: no signed session cookie is read or written."""

    async def open_session(self, app: Quart, request: BaseRequestWebsocket) -> None:
        return None

    async def save_session(
        self, app: Quart, session: SessionMixin, response: Response | ResponseBase | None
    ) -> None:
        """Never called: Quart saves no null session."""


def init_app(app: Quart, settings: Settings) -> None:
    """Harden every response of ``app`` as ``settings`` say."""
    app.session_interface = NoSessions()  # type: ignore[assignment]
    app.asgi_app = SecurityHeaders(app.asgi_app, settings)  # type: ignore[method-assign]

    if settings.cors_origins:
        cors(
            app,
            allow_origin=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_headers=["Authorization", "Content-Type"],
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            # What the API documents in its responses' headers, readable by browser code too.
            expose_headers=[
                "Location",
                "Retry-After",
{%- if cookiecutter.auth == "jwt" %}
                # A 401 or 403 says in it which token or scope it wants (RFC 6750).
                "WWW-Authenticate",
{%- endif %}
{%- if cookiecutter.rate_limit != "none" %}
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
{%- endif %}
            ],
            # Browsers may reuse a preflight's answer for this long rather than ask before every
            # call (Chromium keeps it 2 hours at most, Firefox 24).
            max_age=CORS_MAX_AGE_SECONDS,
        )
    if settings.trusted_proxy_count:
        # Believe X-Forwarded-For/-Proto only as far back as the proxies we run.
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            app.asgi_app, mode="legacy", trusted_hops=settings.trusted_proxy_count
        )
