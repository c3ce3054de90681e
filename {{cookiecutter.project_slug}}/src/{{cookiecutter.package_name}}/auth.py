"""Bearer-token authentication (JWT, RFC 6750) and the scopes each view needs.

Tokens are checked for signature, algorithm, ``exp``, ``nbf``, ``iss``, ``aud`` and ``sub``.
Keys are an HS* secret, or the public keys of a JWKS fetched when the app starts serving
(and again, at most once a minute: when a token names a key the set does not hold, and in the
background once the keys are ten minutes old; a failed fetch keeps the keys there are).
Why a token was refused goes to the log; the caller only learns that it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

import click
import jwt
from quart import Quart, current_app, g, request
from quart_schema import HttpSecurityScheme, security_scheme
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from .config import Environment, Settings, StartupError
from .logs import summary

EXTENSION_KEY = "auth"
BEARER = "bearer"
BEARER_SCHEME = HttpSecurityScheme(scheme="bearer", bearer_format="JWT")
# The JWKS is fetched at most once a minute, whether the fetch works or not, and again once
# the keys are ten minutes old, so that keys the issuer withdraws stop being trusted.
JWKS_REFRESH_INTERVAL_SECONDS = 60.0
JWKS_MAX_AGE_SECONDS = 600.0
JWKS_TIMEOUT_SECONDS = 5.0
# What a fetch can raise: PyJWT's errors (unreachable, no usable keys) and a body that is not
# JSON (ValueError).
JWKS_ERRORS = (jwt.PyJWTError, ValueError)
# A JWK's ``use`` when it verifies signatures (RFC 7517: absent means any use).
SIGNING = ("sig", None)
# Verified tokens remembered (their signature is not checked again), and for how long at most.
VERIFIED_TOKENS = 4096
VERIFIED_SECONDS = 60.0
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made the request, and what they may do."""

    subject: str
    scopes: frozenset[str]


class InsufficientScope(Forbidden):
    """A 403 that says, in WWW-Authenticate, which scope was missing (RFC 6750)."""

    def __init__(self, scope: str) -> None:
        super().__init__("The token does not grant the scope this request needs.")
        self.scope = scope

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        headers = super().get_headers(*args, **kwargs)
        challenge = f'Bearer error="insufficient_scope", scope="{self.scope}"'
        return [*headers, ("WWW-Authenticate", challenge)]


def _unauthorized(error: str | None) -> Unauthorized:
    challenge = WWWAuthenticate("Bearer", {"error": error} if error else {})
    return Unauthorized("A valid bearer token is required.", www_authenticate=challenge)


class TokenVerifier:
    """Checks bearer tokens as the settings say."""

    def __init__(self, settings: Settings) -> None:
        self.algorithms = list(settings.jwt_algorithms)
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = timedelta(seconds=settings.jwt_leeway_seconds)
        secret = settings.jwt_secret_key
        self._secret = secret.get_secret_value() if secret else ""
        self._jwks: jwt.PyJWKClient | None = None
        if settings.jwt_jwks_url and not settings.jwt_uses_secret:
            self._jwks = jwt.PyJWKClient(
                settings.jwt_jwks_url, cache_jwk_set=False, timeout=JWKS_TIMEOUT_SECONDS
            )
        # Key id -> algorithm -> key.
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at = 0.0
        self._tried_at = 0.0
        self._refresh_lock = asyncio.Lock()
        # The refresh of keys grown old, running in the background, if one is.
        self.refreshing: asyncio.Task[None] | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def start(self) -> None:
        """Fetch the JWKS (when keys come from one); fails the start when it cannot."""
        if self._jwks is not None:
            self._tried_at = time.monotonic()
            try:
                await self._fetch_keys(self._jwks)
            except JWKS_ERRORS as error:
                raise StartupError(
                    f"Could not fetch the JWKS from {self._jwks.uri}: {error}"
                ) from error

    async def stop(self) -> None:
        """Cancel a background refresh of the keys, if one is running."""
        if self.refreshing is not None:
            self.refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.refreshing

    async def _fetch_keys(self, client: jwt.PyJWKClient) -> None:
        jwk_set = await asyncio.to_thread(client.fetch_data)
        self._keys = signing_keys(jwk_set, self.algorithms)
        self._fetched_at = time.monotonic()

    async def _refresh(self, client: jwt.PyJWKClient) -> None:
        """Fetch the keys again, unless that was tried less than a refresh interval ago; when
        the fetch fails, the keys already fetched stay."""
        async with self._refresh_lock:
            now = time.monotonic()
            if now - self._tried_at < JWKS_REFRESH_INTERVAL_SECONDS:
                return
            self._tried_at = now
            try:
                await self._fetch_keys(client)
            except JWKS_ERRORS as error:
                logger.warning("Could not refresh the JWKS from %s: %s", client.uri, summary(error))

    def _refreshed(self, _task: asyncio.Task[None]) -> None:
        self.refreshing = None

    async def _public_key(
        self, client: jwt.PyJWKClient, key_id: object, algorithm: str
    ) -> jwt.PyJWK:
        if not isinstance(key_id, str):
            raise jwt.InvalidTokenError("the token names no key (kid)")
        now = time.monotonic()
        if key_id not in self._keys:
            # A key not seen before: the issuer may have added it since the last fetch.
            await self._refresh(client)
        elif (
            now - self._fetched_at > JWKS_MAX_AGE_SECONDS
            and now - self._tried_at >= JWKS_REFRESH_INTERVAL_SECONDS
            and self.refreshing is None
        ):
            # Old keys: fetch them again without holding up this request.
            self.refreshing = asyncio.create_task(self._refresh(client))
            self.refreshing.add_done_callback(self._refreshed)
        if key_id not in self._keys:
            raise jwt.InvalidTokenError(f"no key {key_id!r} in the JWKS")
        try:
            return self._keys[key_id][algorithm]
        except KeyError:
            raise jwt.InvalidTokenError(f"key {key_id!r} is not for {algorithm}") from None

    async def verify(self, token: str) -> Principal:
        """The token's principal; raises :class:`jwt.InvalidTokenError` when it is refused.

        A token already verified is trusted again, without the signature check, until its
        ``exp`` or for VERIFIED_SECONDS, whichever comes first.
        """
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified = {key: entry for key, entry in self._verified.items() if entry[1] > now}
            if len(self._verified) >= VERIFIED_TOKENS:
                self._verified.clear()
        self._verified[token] = (principal, min(expires, now + VERIFIED_SECONDS))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        key: jwt.PyJWK | str = self._secret
        if self._jwks is not None:
            key = await self._public_key(self._jwks, header.get("kid"), algorithm)
        claims = jwt.decode(
            token,
            key,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": REQUIRED_CLAIMS},
        )
        if not str(claims["sub"]).strip():
            # PyJWT checks that it is a string; an empty one names nobody.
            raise jwt.InvalidTokenError("the token's subject (sub) is empty")
        principal = Principal(subject=str(claims["sub"]), scopes=_scopes(claims))
        return principal, float(claims["exp"])


def signing_keys(jwk_set: object, algorithms: Sequence[str]) -> dict[str, dict[str, jwt.PyJWK]]:
    """The keys of a JWKS that can verify tokens signed with ``algorithms``, by key id and then
    algorithm.

    A key that names its algorithm (``alg``) serves that one only. One that does not (``alg``
    is optional, and some identity providers leave it out) serves what its type and curve
    imply: for an RSA key, every accepted RS* and PS* algorithm, where PyJWT alone would take
    it for RS256. Keys without a ``kid``, for encryption, for other algorithms or of a type
    PyJWT does not know are left out; a set with no key left is an error.
    """
    entries = jwk_set.get("keys") if isinstance(jwk_set, dict) else None
    if not isinstance(entries, list):
        raise jwt.PyJWKClientError("The JWKS is not a JSON object with a list of keys")
    rsa = [algorithm for algorithm in algorithms if algorithm.startswith(("RS", "PS"))]
    keys: dict[str, dict[str, jwt.PyJWK]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use") not in SIGNING:
            continue
        implied = rsa if "alg" not in entry and entry.get("kty") == "RSA" else [None]
        for algorithm in implied:
            with contextlib.suppress(jwt.PyJWTError):
                key = jwt.PyJWK(entry, algorithm)
                if key.algorithm_name in algorithms:
                    keys.setdefault(str(entry["kid"]), {})[key.algorithm_name] = key
    if not keys:
        raise jwt.PyJWKClientError(
            f"The JWKS has no key with a key id (kid) for {', '.join(algorithms)}"
        )
    return keys


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (space-separated, RFC 8693) or ``scp`` (a list or a string)."""
    found: set[str] = set()
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(str(scope) for scope in value)
    return frozenset(found)


def mint_token(
    settings: Settings,
    subject: str,
    scopes: Iterable[str],
    lifetime: timedelta = timedelta(hours=1),
) -> str:
    """A token signed with the HS* secret: for development and tests, not for production."""
    if settings.jwt_secret_key is None or not settings.jwt_uses_secret:
        raise ValueError("Only HS* secrets can mint tokens; with a JWKS, your issuer signs them")
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    }
    secret = settings.jwt_secret_key.get_secret_value()
    return jwt.encode(claims, secret, algorithm=settings.jwt_algorithms[0])


async def authenticate() -> Principal:
    """The request's principal, from its bearer token; a 401 when there is none or it is bad."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise _unauthorized(None)
    verifier = cast(TokenVerifier, current_app.extensions[EXTENSION_KEY])
    try:
        return await verifier.verify(token.strip())
    except jwt.InvalidTokenError as error:
        logger.info("Refused a bearer token on %s %s: %s", request.method, request.path, error)
        raise _unauthorized("invalid_token") from None


def require_scope(scope: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Let the view run only for a valid token that grants ``scope`` (shown in the OpenAPI)."""

    def decorator(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(view)
        async def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = await authenticate()
            if scope not in principal.scopes:
                logger.info(
                    "Refused %s %s to %s: the token lacks %s",
                    request.method,
                    request.path,
                    principal.subject,
                    scope,
                )
                raise InsufficientScope(scope)
            g.principal = principal
            return await view(*args, **kwargs)

        return security_scheme([{BEARER: [scope]}])(checked)

    return decorator


def current_principal() -> Principal:
    """Who made this request (inside a view that :func:`require_scope` guards)."""
    return cast(Principal, g.principal)


def init_app(app: Quart, settings: Settings) -> None:
    """Check tokens on ``app`` as ``settings`` say, and add the ``mint-token`` command."""
    verifier = TokenVerifier(settings)
    app.extensions[EXTENSION_KEY] = verifier
    app.before_serving(verifier.start)
    app.after_serving(verifier.stop)

    @app.cli.command("mint-token")
    @click.argument("scopes", nargs=-1)
    @click.option("--subject", default="developer", show_default=True)
    @click.option("--minutes", default=60, show_default=True, type=click.IntRange(1, 24 * 60))
    def mint_token_command(scopes: tuple[str, ...], subject: str, minutes: int) -> None:
        """Print a development token granting SCOPES (e.g. items:read items:write)."""
        if settings.environment is not Environment.DEVELOPMENT:
            raise click.ClickException("mint-token only runs in development")
        try:
            token = mint_token(settings, subject, scopes, timedelta(minutes=minutes))
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(token)
