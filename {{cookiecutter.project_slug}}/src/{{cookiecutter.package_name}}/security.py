"""HTTP hardening: security headers on every response, CORS, which proxies to believe, and no
cookie sessions."""

from __future__ import annotations

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, Response, request
from quart.sessions import SessionInterface, SessionMixin
from quart.wrappers import BaseRequestWebsocket
from quart_cors import cors
from werkzeug.wrappers import Response as ResponseBase

from .config import Settings

# A JSON API loads nothing and may be framed by nobody.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The docs page (development only) loads Swagger UI from its CDN and starts it inline.
DOCS_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; connect-src 'self'; img-src 'self' data:; "
    "script-src https://cdnjs.cloudflare.com 'unsafe-inline'; style-src https://cdnjs.cloudflare.com"
)
DOCS_ENDPOINT = "swagger_ui"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


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
    hsts = f"max-age={settings.hsts_seconds}; includeSubDomains" if settings.hsts_seconds else None

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        policy = DOCS_POLICY if request.endpoint == DOCS_ENDPOINT else API_POLICY
        response.headers["Content-Security-Policy"] = policy
        response.headers.setdefault("Cache-Control", "no-store")
        if hsts:
            response.headers["Strict-Transport-Security"] = hsts
        return response

    if settings.cors_origins:
        cors(
            app,
            allow_origin=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_headers=["Authorization", "Content-Type"],
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            expose_headers=["Location", "Retry-After"],
        )
    if settings.trusted_proxy_count:
        # Believe X-Forwarded-For/-Proto only as far back as the proxies we run.
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            app.asgi_app, mode="legacy", trusted_hops=settings.trusted_proxy_count
        )
