"""Bearer tokens: real signatures, every claim checked, scopes per view, reasons only in logs."""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from quart import Quart
from quart.testing.app import LifespanError
from quart.typing import TestClientProtocol as Client

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.auth import (
    EXTENSION_KEY,
    JWKS_MAX_AGE_SECONDS,
    TokenVerifier,
    current_principal,
    mint_token,
    require_scope,
    signing_keys,
)
from {{ cookiecutter.package_name }}.config import PUBLIC_KEY_ALGORITHMS, Settings

from .conftest import make_settings, started_app

ITEMS = "/api/v1/items"
# The private keys of the public-key algorithms: RS*/PS*, ES* and EdDSA.
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PROBLEM_JSON = "application/problem+json"


def claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {
        "sub": "alice",
        "scope": "items:read items:write",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def signed(settings: Settings, **overrides: Any) -> str:
    secret = settings.jwt_secret_key
    assert secret is not None
    return jwt.encode(claims(settings, **overrides), secret.get_secret_value(), algorithm="HS256")


async def refused(client: Client, token: str | None, status: int = 401) -> dict[str, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.get(ITEMS, headers=headers)
    assert response.status_code == status
    assert response.content_type == PROBLEM_JSON
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body: dict[str, Any] = await response.get_json()
    return body


@pytest.fixture
def anonymous(app: Quart) -> Client:
    return app.test_client()


async def test_a_valid_token_is_let_in(settings: Settings, anonymous: Client) -> None:
    token = mint_token(settings, "alice", ["items:read"])
    response = await anonymous.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_no_token_is_a_401_with_a_bearer_challenge(anonymous: Client) -> None:
    body = await refused(anonymous, None)
    assert body["status"] == 401
    response = await anonymous.get(ITEMS, headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": datetime.now(UTC) - timedelta(minutes=5)}, "expired"),
        ({"nbf": datetime.now(UTC) + timedelta(minutes=5)}, "not yet valid"),
        ({"iss": "https://someone-else.example"}, "issuer"),
        ({"aud": "another-service"}, "audience"),
        ({"exp": None}, "exp"),
        ({"sub": None}, "sub"),
        ({"sub": " "}, "subject (sub) is empty"),
    ],
)
async def test_bad_claims_are_refused_and_only_the_log_says_why(
    settings: Settings,
    anonymous: Client,
    caplog: pytest.LogCaptureFixture,
    overrides: dict[str, Any],
    reason: str,
) -> None:
    token = signed(settings, **overrides)
    with caplog.at_level(logging.INFO):
        body = await refused(anonymous, token)
    assert reason in caplog.text.lower()
    assert reason not in json.dumps(body).lower()
    assert token not in caplog.text


async def test_the_clock_skew_allowance_is_small(settings: Settings, anonymous: Client) -> None:
    leeway = timedelta(seconds=settings.jwt_leeway_seconds)
    just_expired = signed(settings, exp=datetime.now(UTC) - leeway / 2)
    response = await anonymous.get(ITEMS, headers={"Authorization": f"Bearer {just_expired}"})
    assert response.status_code == 200
    await refused(anonymous, signed(settings, exp=datetime.now(UTC) - leeway * 2))


async def test_a_forged_signature_is_refused(settings: Settings, anonymous: Client) -> None:
    forged = jwt.encode(claims(settings), "an attacker's guess at the secret!!", algorithm="HS256")
    await refused(anonymous, forged)
    header, payload, signature = signed(settings).split(".")
    await refused(anonymous, f"{header}.{payload}.{signature[::-1]}")
    await refused(anonymous, "not-a-jwt")


async def test_alg_none_is_refused(settings: Settings, anonymous: Client) -> None:
    unsigned = jwt.encode(claims(settings), "", algorithm="none")
    await refused(anonymous, unsigned)


async def test_an_algorithm_outside_the_settings_is_refused(
    settings: Settings, anonymous: Client
) -> None:
    secret = settings.jwt_secret_key
    assert secret is not None
    token = jwt.encode(claims(settings), secret.get_secret_value(), algorithm="HS512")
    await refused(anonymous, token)


async def test_a_missing_scope_is_a_403_naming_it(settings: Settings, anonymous: Client) -> None:
    reader = {"Authorization": f"Bearer {mint_token(settings, 'reader', ['items:read'])}"}
    response = await anonymous.post(ITEMS, json={"name": "x"}, headers=reader)
    assert response.status_code == 403
    assert response.content_type == PROBLEM_JSON
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="items:write"'
    )
    writer = {"Authorization": f"Bearer {mint_token(settings, 'writer', ['items:write'])}"}
    assert (await anonymous.get(ITEMS, headers=writer)).status_code == 403
    assert (await anonymous.post(ITEMS, json={"name": "x"}, headers=writer)).status_code == 201


async def test_a_guarded_view_knows_who_called(settings: Settings, app: Quart) -> None:
    @app.get("/api/v1/whoami")
    @require_scope("items:read")
    async def whoami() -> dict[str, object]:
        principal = current_principal()
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    token = mint_token(settings, "alice", ["items:read", "items:write"])
    response = await app.test_client().get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
    )
    assert await response.get_json() == {
        "subject": "alice",
        "scopes": ["items:read", "items:write"],
    }


async def test_scopes_may_come_as_an_scp_list(settings: Settings, anonymous: Client) -> None:
    token = signed(settings, scope=None, scp=["items:read"])
    response = await anonymous.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [('{"name": ""}', "application/json"), ("{not json", "application/json"), ("x", "text/plain")],
    ids=["invalid", "malformed", "not JSON"],
)
async def test_authentication_comes_before_the_body_is_read(
    anonymous: Client, body: str, content_type: str
) -> None:
    response = await anonymous.post(ITEMS, data=body, headers={"Content-Type": content_type})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
async def test_health_and_the_openapi_document_are_public(anonymous: Client, path: str) -> None:
    assert (await anonymous.get(path)).status_code == 200


async def test_the_openapi_document_shows_the_bearer_scheme_and_scopes(
    anonymous: Client,
) -> None:
    document = await (await anonymous.get("/openapi.json")).get_json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["paths"][ITEMS]["get"]["security"] == [{"bearer": ["items:read"]}]
    assert document["paths"][ITEMS]["post"]["security"] == [{"bearer": ["items:write"]}]
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert {"401", "403"} <= set(document["paths"][ITEMS]["post"]["responses"])


def test_mint_token_makes_tokens_the_service_accepts_in_development(settings: Settings) -> None:
    development = make_settings(settings.database_url, environment="development")
    runner = create_app(development).test_cli_runner()
    result = runner.invoke(args=["mint-token", "items:read", "--subject", "dev"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    secret = development.jwt_secret_key
    assert secret is not None
    decoded = jwt.decode(
        token,
        secret.get_secret_value(),
        algorithms=["HS256"],
        audience=development.jwt_audience,
        issuer=development.jwt_issuer,
    )
    assert decoded["sub"] == "dev"
    assert decoded["scope"] == "items:read"


def test_mint_token_refuses_to_run_outside_development(settings: Settings) -> None:
    result = create_app(settings).test_cli_runner().invoke(args=["mint-token", "items:read"])
    assert result.exit_code != 0
    assert "only runs in development" in result.output


# --- Keys from a JWKS, served by a real local HTTP server ---------------------------------


class JWKSServer:
    """Serves a JSON Web Key Set on 127.0.0.1 and counts how often it is fetched."""

    def __init__(self) -> None:
        self.keys: dict[str, SigningKey] = {}
        self.algorithms: dict[str, str] = {}
        # Keys served without their ``alg``, which a JWK may leave out.
        self.unnamed: set[str] = set()
        self.fetches = 0
        # Served instead of the key set when set: an identity provider having a bad day.
        self.broken_body: bytes | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = server.broken_body or json.dumps(server.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def add_key(self, key_id: str, algorithm: str = "RS256", *, named: bool = True) -> SigningKey:
        self.keys[key_id] = private_key_for(algorithm)
        self.algorithms[key_id] = algorithm
        if not named:
            self.unnamed.add(key_id)
        return self.keys[key_id]

    def jwks(self) -> dict[str, Any]:
        keys = []
        for key_id, key in self.keys.items():
            algorithm = self.algorithms[key_id]
            public = jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key(), as_dict=True)
            named = {} if key_id in self.unnamed else {"alg": algorithm}
            keys.append({**public, "kid": key_id, "use": "sig", **named})
        return {"keys": keys}


def private_key_for(algorithm: str) -> SigningKey:
    if algorithm.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curves = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    if algorithm in curves:
        return ec.generate_private_key(curves[algorithm])
    assert algorithm == "EdDSA", algorithm
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    server.add_key("first")
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


@pytest.fixture
def jwks_settings(settings: Settings, jwks_server: JWKSServer) -> Settings:
    return make_settings(
        settings.database_url,
        jwt_algorithms="RS256",
        jwt_secret_key=None,
        jwt_jwks_url=jwks_server.url,
    )


def rs256(settings: Settings, key: SigningKey, key_id: str, **overrides: Any) -> str:
    return jwt.encode(
        claims(settings, **overrides), key, algorithm="RS256", headers={"kid": key_id}
    )


@pytest.mark.parametrize("named", [True, False], ids=["alg named", "alg left out"])
@pytest.mark.parametrize("algorithm", sorted(PUBLIC_KEY_ALGORITHMS))
async def test_every_public_key_algorithm_the_settings_accept_verifies_tokens(
    settings: Settings, jwks_server: JWKSServer, algorithm: str, named: bool
) -> None:
    """Whether or not the JWK names its ``alg``: some identity providers (Microsoft Entra ID
    among them) leave it out, and PyJWT alone then takes an RSA key for RS256 only."""
    key = jwks_server.add_key(algorithm, algorithm, named=named)
    token = jwt.encode(claims(settings), key, algorithm=algorithm, headers={"kid": algorithm})
    signed_settings = make_settings(
        settings.database_url,
        jwt_algorithms=algorithm,
        jwt_secret_key=None,
        jwt_jwks_url=jwks_server.url,
    )
    async with started_app(signed_settings) as app:
        response = await app.test_client().get(ITEMS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


async def test_an_rsa_key_that_names_no_algorithm_serves_every_accepted_rs_and_ps_one(
    settings: Settings, jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    """PyJWT alone takes an RSA key without ``alg`` for RS256, and refuses PS256 tokens."""
    unnamed = jwks_server.add_key("unnamed", named=False)
    rs256_only = jwks_server.keys["first"]  # the fixture's key, named RS256
    signed_settings = make_settings(
        settings.database_url,
        jwt_algorithms="RS256,RS384,PS256,ES256",
        jwt_secret_key=None,
        jwt_jwks_url=jwks_server.url,
    )
    async with started_app(signed_settings) as app:
        client = app.test_client()
        for algorithm in ["RS256", "RS384", "PS256"]:
            token = jwt.encode(
                claims(settings), unnamed, algorithm=algorithm, headers={"kid": "unnamed"}
            )
            response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, algorithm
        # A key that names its algorithm serves no other, and an RSA key no EC algorithm.
        with caplog.at_level(logging.INFO):
            ps256 = jwt.encode(
                claims(settings), rs256_only, algorithm="PS256", headers={"kid": "first"}
            )
            await refused(client, ps256)
            forged_ec = jwt.encode(
                claims(settings),
                private_key_for("ES256"),
                algorithm="ES256",
                headers={"kid": "unnamed"},
            )
            await refused(client, forged_ec)
    assert "key 'first' is not for PS256" in caplog.text
    assert "key 'unnamed' is not for ES256" in caplog.text


def test_keys_that_cannot_verify_tokens_are_left_out_of_the_jwks() -> None:
    public = jwt.get_algorithm_by_name("RS256").to_jwk(
        private_key_for("RS256").public_key(), as_dict=True
    )
    jwk_set = {
        "keys": [
            {**public, "kid": "signs"},
            {**public, "kid": "encrypts", "use": "enc"},
            public,  # no kid: a token could not name it
            {**public, "kid": "es256", "alg": "ES256"},  # not accepted here
            {"kid": "unknown", "kty": "XYZ"},
            "not a key",
        ]
    }
    keys = signing_keys(jwk_set, ["RS256", "PS512"])
    assert {kid: sorted(by_algorithm) for kid, by_algorithm in keys.items()} == {
        "signs": ["PS512", "RS256"]
    }
    encrypting = {**public, "kid": "encrypts", "use": "enc"}
    for unusable in [{"keys": [encrypting]}, {"keys": "none"}, []]:
        with pytest.raises(jwt.PyJWKClientError):
            signing_keys(unusable, ["RS256"])


async def test_jwks_keys_are_fetched_at_startup_and_verify_tokens(
    jwks_settings: Settings, jwks_server: JWKSServer
) -> None:
    async with started_app(jwks_settings) as app:
        assert jwks_server.fetches == 1
        client = app.test_client()
        token = rs256(jwks_settings, jwks_server.keys["first"], "first")
        for _ in range(3):
            response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
        assert jwks_server.fetches == 1


async def test_algorithm_confusion_is_refused(
    jwks_settings: Settings, jwks_server: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An HS256 token keyed with the public key, hoping it is taken for an HMAC secret."""
    public_pem = (
        jwks_server.keys["first"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    payload = {
        key: int(value.timestamp()) if isinstance(value, datetime) else value
        for key, value in claims(jwks_settings).items()
    }
    parts = [
        jwt.utils.base64url_encode(json.dumps(part).encode())
        for part in ({"alg": "HS256", "typ": "JWT", "kid": "first"}, payload)
    ]
    signing_input = b".".join(parts)
    signature = jwt.utils.base64url_encode(hmac.new(public_pem, signing_input, sha256).digest())
    confused = (signing_input + b"." + signature).decode()
    unsigned = jwt.encode(claims(jwks_settings), "", algorithm="none", headers={"kid": "first"})
    async with started_app(jwks_settings) as app:
        with caplog.at_level(logging.INFO):
            await refused(app.test_client(), confused)
            await refused(app.test_client(), unsigned)
    assert "algorithm 'HS256' is not accepted" in caplog.text
    assert "algorithm 'none' is not accepted" in caplog.text


async def test_a_rotated_key_is_fetched_once_then_unknown_keys_are_refused(
    jwks_settings: Settings, jwks_server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with started_app(jwks_settings) as app:
        client = app.test_client()
        new_key = jwks_server.add_key("second")
        # Pretend the set was fetched long enough ago to be refreshed.
        monkeypatch.setattr(time, "monotonic", lambda: 1e12)
        token = rs256(jwks_settings, new_key, "second")
        response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert jwks_server.fetches == 2
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for _ in range(3):
            await refused(client, rs256(jwks_settings, stranger, "third"))
        assert jwks_server.fetches == 2


async def test_a_token_signed_by_another_key_is_refused(
    jwks_settings: Settings, jwks_server: JWKSServer
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app = create_app(jwks_settings)
    async with app.test_app():
        await refused(app.test_client(), rs256(jwks_settings, stranger, "first"))


async def test_an_unreachable_jwks_fails_the_start_in_one_log_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        make_settings(
            settings.database_url,
            jwt_algorithms="RS256",
            jwt_secret_key=None,
            jwt_jwks_url="http://127.0.0.1:1/jwks.json",
        )
    )
    with pytest.raises(
        LifespanError, match=r"Could not fetch the JWKS from http://127\.0\.0\.1:1/"
    ):
        async with app.test_app():
            pass
    [record] = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert record.getMessage().startswith("Could not fetch the JWKS from http://127.0.0.1:1/")
    assert record.exc_info is None


# A 200 that is not JSON, a set with no keys, JSON that is not a set.
BROKEN_JWKS = [b"<html>Service Unavailable</html>", b'{"keys": []}', b"[]"]


@pytest.mark.parametrize("body", BROKEN_JWKS)
async def test_a_broken_jwks_fails_the_start(
    jwks_settings: Settings, jwks_server: JWKSServer, body: bytes
) -> None:
    jwks_server.broken_body = body
    app = create_app(jwks_settings)
    with pytest.raises(LifespanError, match=r"Could not fetch the JWKS from http://127\.0\.0\.1:"):
        async with app.test_app():
            pass


@pytest.mark.parametrize("body", BROKEN_JWKS)
async def test_a_jwks_gone_bad_keeps_its_keys_and_is_not_asked_again_at_once(
    jwks_settings: Settings,
    jwks_server: JWKSServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    async with started_app(jwks_settings) as app:
        client = app.test_client()
        jwks_server.broken_body = body
        monkeypatch.setattr(time, "monotonic", lambda: 1e12)  # long after the start's fetch
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("second", "third", "fourth"):  # keys the service has not seen: 401s
            await refused(client, rs256(jwks_settings, stranger, kid))
        assert jwks_server.fetches == 2  # one failed refresh, not one per token
        assert "Could not refresh the JWKS" in caplog.text
        token = rs256(jwks_settings, jwks_server.keys["first"], "first")
        response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


async def test_keys_the_issuer_withdraws_stop_being_trusted(
    jwks_settings: Settings, jwks_server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with started_app(jwks_settings) as app:
        client = app.test_client()
        withdrawn = jwks_server.keys.pop("first")
        jwks_server.add_key("second")
        later = time.monotonic() + JWKS_MAX_AGE_SECONDS + 1
        monkeypatch.setattr(time, "monotonic", lambda: later)
        # The keys are old: this request is still let in, and starts fetching them again.
        token = rs256(jwks_settings, withdrawn, "first", sub="before")
        response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        verifier: TokenVerifier = app.extensions[EXTENSION_KEY]
        if verifier.refreshing is not None:  # else it has finished already
            await verifier.refreshing
        assert jwks_server.fetches == 2
        await refused(client, rs256(jwks_settings, withdrawn, "first", sub="after"))
