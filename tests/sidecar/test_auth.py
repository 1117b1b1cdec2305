"""Learners' tokens: HS256 with the project secret, ES256/RS256 through the project's JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.auth import Learner, TokenVerifier
from sidecar.errors import NotAuthenticated, ServiceUnavailable
from tests.sidecar.conftest import (
    JWT_SECRET,
    SUPABASE_URL,
    TOKEN_ISSUER,
    access_token,
    make_settings,
    running_client,
)

pytestmark = pytest.mark.anyio

EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class JwksServer:
    """Serves a JWKS document the way Supabase Auth does, counting fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.fetches = 0
        self.keys = keys  # what the next fetch gets; a test may rotate them
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/auth/v1/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    keys = [public_jwk(EC_KEY, "ec-1", "ES256"), public_jwk(RSA_KEY, "rsa-1", "RS256")]
    with JwksServer(keys) as server:
        yield server


def signed_token(key: Any, kid: str, alg: str, sub: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": sub,
        "aud": "authenticated",
        "role": "authenticated",
        "exp": now + 600,
        "iat": now,
        **claims,
    }
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def verifier(jwks_url: str | None = None, secret: str | None = JWT_SECRET) -> TokenVerifier:
    return TokenVerifier(jwt_secret=secret, jwks_url=jwks_url)


async def code_of(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        await verifier.learner_from_header(header)
    return caught.value.detail.code


async def test_hs256_token_names_the_learner() -> None:
    user_id = uuid.uuid4()
    learner = await verifier().learner_from_header(f"Bearer {access_token(user_id)}")
    assert learner.id == user_id


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Bearer", "missing_token"),
        ("Bearer   ", "missing_token"),
        ("Basic dXNlcjpwYXNz", "missing_token"),
        ("Bearer not-a-jwt", "invalid_token"),
    ],
)
async def test_malformed_authorization_headers(header: str | None, code: str) -> None:
    assert await code_of(verifier(), header) == code


@pytest.mark.parametrize(
    ("token_kwargs", "code"),
    [
        ({"expires_in": -60}, "token_expired"),
        ({"audience": "anon"}, "invalid_token"),
        ({"role": "anon"}, "invalid_token"),
        ({"role": "service_role"}, "invalid_token"),
        ({"secret": "someone-elses-secret-0123456789abcdef"}, "invalid_token"),
    ],
)
async def test_token_matrix(token_kwargs: dict[str, Any], code: str) -> None:
    token = access_token(uuid.uuid4(), **token_kwargs)
    assert await code_of(verifier(), f"Bearer {token}") == code


async def test_sub_must_be_a_uuid() -> None:
    token = access_token("not-a-uuid")
    assert await code_of(verifier(), f"Bearer {token}") == "invalid_token"


async def test_token_without_exp_is_refused() -> None:
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "aud": "authenticated", "role": "authenticated"},
        JWT_SECRET,
        algorithm="HS256",
    )
    assert await code_of(verifier(), f"Bearer {token}") == "invalid_token"


async def test_alg_none_is_refused() -> None:
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "aud": "authenticated",
            "role": "authenticated",
            "exp": int(time.time()) + 60,
        },
        "",
        algorithm="none",
    )
    assert await code_of(verifier(), f"Bearer {token}") == "invalid_token"


@pytest.mark.parametrize(
    ("key", "kid", "alg"), [(EC_KEY, "ec-1", "ES256"), (RSA_KEY, "rsa-1", "RS256")]
)
async def test_asymmetric_tokens_verify_through_the_jwks(
    jwks: JwksServer, key: Any, kid: str, alg: str
) -> None:
    user_id = uuid.uuid4()
    token = signed_token(key, kid, alg, str(user_id))
    learner = await verifier(jwks.url, secret=None).learner_from_header(f"Bearer {token}")
    assert learner.id == user_id


async def test_jwks_is_fetched_once_and_cached(jwks: JwksServer) -> None:
    checker = verifier(jwks.url, secret=None)
    before = jwks.fetches
    for _ in range(5):
        token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
        await checker.learner_from_header(f"Bearer {token}")
    assert jwks.fetches - before == 1


async def test_es256_token_signed_by_an_unknown_key_is_refused(jwks: JwksServer) -> None:
    token = signed_token(OTHER_EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
    assert await code_of(verifier(jwks.url), f"Bearer {token}") == "invalid_token"


async def test_es256_token_with_wrong_audience_is_refused(jwks: JwksServer) -> None:
    token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()), aud="anon")
    assert await code_of(verifier(jwks.url), f"Bearer {token}") == "invalid_token"


async def test_expired_es256_token(jwks: JwksServer) -> None:
    token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()), exp=int(time.time()) - 30)
    assert await code_of(verifier(jwks.url), f"Bearer {token}") == "token_expired"


async def test_hs256_token_is_not_checked_against_a_public_key(jwks: JwksServer) -> None:
    # Only a JWKS configured: an HS256 token fails, whatever its secret.
    token = access_token(uuid.uuid4())
    assert await code_of(verifier(jwks.url, secret=None), f"Bearer {token}") == "invalid_token"


async def test_alg_confusion_with_the_public_key_as_hmac_secret_is_refused(
    jwks: JwksServer,
) -> None:
    # The classic attack: HS256 "signed" with the published public key, naming its kid.
    public_pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": "ec-1"}
    claims = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "iat": now,
        "exp": now + 600,
    }

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    for secret in (None, JWT_SECRET):  # with or without an HS256 secret configured as well
        assert await code_of(verifier(jwks.url, secret=secret), f"Bearer {forged}") == (
            "invalid_token"
        )


async def test_asymmetric_token_without_a_jwks_is_refused() -> None:
    token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
    assert await code_of(verifier(None), f"Bearer {token}") == "invalid_token"


async def test_unreachable_jwks_is_a_503_not_a_401() -> None:
    token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
    dead = TokenVerifier(jwt_secret=None, jwks_url="http://127.0.0.1:9/jwks.json")
    with pytest.raises(ServiceUnavailable) as caught:
        await dead.learner_from_header(f"Bearer {token}")
    assert caught.value.detail.code == "jwks_unavailable"


async def test_the_app_answers_401_in_the_error_shape(database_url: str, jwks: JwksServer) -> None:
    settings = make_settings(database_url, supabase_jwks_url=jwks.url)
    async with running_client(settings) as client:
        missing = await client.get("/v1/checkout/sessions/cs_test_x")
        expired = await client.get(
            "/v1/checkout/sessions/cs_test_x",
            headers={"Authorization": f"Bearer {access_token(uuid.uuid4(), expires_in=-5)}"},
        )
        es256 = await client.get(
            "/v1/checkout/sessions/cs_test_x",
            headers={
                "Authorization": "Bearer "
                + signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
            },
        )
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"code": "missing_token", "message": "Send Authorization: Bearer <access token>."}
    }
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"
    # A valid ES256 token gets past auth: the session is simply not this learner's.
    assert es256.status_code == 404
    assert es256.json()["error"]["code"] == "checkout_session_not_found"


# --- iss: the project's own Auth server, when SUPABASE_URL is known ----------------------------


@pytest.mark.parametrize(
    ("iss", "accepted"),
    [
        (TOKEN_ISSUER, True),
        (TOKEN_ISSUER + "/", False),
        ("http://127.0.0.1:54321", False),
        ("https://another-project.supabase.co/auth/v1", False),
        ("supabase-demo", False),
        ("", False),
        (None, False),  # no iss at all
    ],
)
async def test_iss_must_be_the_projects_auth_server(iss: str | None, accepted: bool) -> None:
    checker = TokenVerifier(jwt_secret=JWT_SECRET, jwks_url=None, issuer=TOKEN_ISSUER)
    header = f"Bearer {access_token(uuid.uuid4(), iss=iss)}"
    if accepted:
        assert (await checker.learner_from_header(header)).is_anonymous is False
    else:
        assert await code_of(checker, header) == "invalid_token"


async def test_without_supabase_url_any_iss_is_accepted() -> None:
    token = access_token(uuid.uuid4(), iss="https://whoever.example/auth/v1")
    assert await verifier().learner_from_header(f"Bearer {token}")


async def test_es256_token_from_another_project_is_refused(jwks: JwksServer) -> None:
    checker = TokenVerifier(jwt_secret=None, jwks_url=jwks.url, issuer=TOKEN_ISSUER)
    ours = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()), iss=TOKEN_ISSUER)
    theirs = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()), iss="https://x.co/auth/v1")
    assert await checker.learner_from_header(f"Bearer {ours}")
    assert await code_of(checker, f"Bearer {theirs}") == "invalid_token"


# --- anonymous sign-ins ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "anonymous"), [(True, True), (False, False), (None, False)], ids=str
)
async def test_is_anonymous_is_read_from_the_token(claim: bool | None, anonymous: bool) -> None:
    token = access_token(uuid.uuid4(), is_anonymous=claim)
    learner = await verifier().learner_from_header(f"Bearer {token}")
    assert learner.is_anonymous is anonymous


@pytest.mark.parametrize("claim", ["true", 1, 0, "false", [], {}])
async def test_a_malformed_is_anonymous_claim_is_refused(claim: object) -> None:
    token = access_token(uuid.uuid4(), is_anonymous=claim)
    assert await code_of(verifier(), f"Bearer {token}") == "invalid_token"


async def test_the_app_checks_iss_when_supabase_url_is_set(database_url: str) -> None:
    settings = make_settings(database_url, supabase_url=SUPABASE_URL)
    async with running_client(settings) as client:
        ours = await client.get(
            "/v1/checkout/sessions/cs_test_x",
            headers={"Authorization": f"Bearer {access_token(uuid.uuid4())}"},
        )
        theirs = await client.get(
            "/v1/checkout/sessions/cs_test_x",
            headers={
                "Authorization": "Bearer "
                + access_token(uuid.uuid4(), iss="https://another-project.supabase.co/auth/v1")
            },
        )
    assert ours.status_code == 404  # past auth: simply not this learner's session
    assert theirs.status_code == 401
    assert theirs.json()["error"]["code"] == "invalid_token"


# --- generated tokens: any header, any claims, signed or not; never anything but 401 ----------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["HS256", "ES256", "RS256", "none", "authenticated", TOKEN_ISSUER]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def tokens(draw: st.DrawFn) -> str:
    now = int(time.time())
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "exp": now + 600,
        "iss": TOKEN_ISSUER,
        "is_anonymous": False,
    }
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from([header, claims, claims]))
        name = draw(
            st.sampled_from(
                [
                    "alg",
                    "kid",
                    "typ",
                    "sub",
                    "aud",
                    "role",
                    "exp",
                    "nbf",
                    "iat",
                    "iss",
                    "is_anonymous",
                    "x",
                ]
            )
        )
        value = draw(json_values)
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = value
    header_json = json.dumps(header).encode()
    if draw(st.integers(0, 9)) == 0:
        depth = draw(st.sampled_from([500, 2000, 5000]))
        header_json = b'{"alg": ' + b"[" * depth + b"]" * depth + b"}"
    signing_input = f"{b64url(header_json)}.{b64url(json.dumps(claims).encode())}"
    secret = draw(
        st.sampled_from([JWT_SECRET, JWT_SECRET, "someone-elses-secret-0123456789abcdef"])
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64url(signature)}"
    if draw(st.integers(0, 9)) == 0:
        token = draw(st.text(max_size=60))
    return token


@given(token=tokens())
@settings(max_examples=500, deadline=None)
async def test_any_token_either_names_a_learner_or_is_401(token: str) -> None:
    checker = TokenVerifier(jwt_secret=JWT_SECRET, jwks_url=None, issuer=TOKEN_ISSUER)
    try:
        learner = await checker.learner_from_token(token)
    except NotAuthenticated:
        return
    assert isinstance(learner.id, uuid.UUID)
    assert isinstance(learner.is_anonymous, bool)


FORGED_CALLS = 20


async def test_forged_key_ids_cost_one_fetch_not_one_each(jwks: JwksServer) -> None:
    checker = verifier(jwks.url, secret=None)
    before = jwks.fetches
    for n in range(FORGED_CALLS):
        token = signed_token(OTHER_EC_KEY, f"forged-{n}", "ES256", str(uuid.uuid4()))
        assert await code_of(checker, f"Bearer {token}") == "invalid_token"
    assert jwks.fetches - before == 1


async def test_concurrent_tokens_share_one_fetch(jwks: JwksServer) -> None:
    checker = verifier(jwks.url, secret=None)
    before = jwks.fetches
    learners: list[Learner] = []

    async def one() -> None:
        token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
        learners.append(await checker.learner_from_header(f"Bearer {token}"))

    async with anyio.create_task_group() as group:
        for _ in range(FORGED_CALLS):
            group.start_soon(one)
    assert len(learners) == FORGED_CALLS
    assert jwks.fetches - before == 1


@pytest.mark.parametrize("status", [200, 500])
async def test_an_empty_or_failing_key_set_is_remembered(status: int) -> None:
    # An empty set refuses the token (401); an Auth server that fails is an outage (503). Either
    # way the answer is kept until the refetch interval, not fetched again for every token.
    with JwksServer([]) as server:
        server.status = status
        checker = verifier(server.url, secret=None)
        for _ in range(FORGED_CALLS):
            token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
            if status == 200:
                assert await code_of(checker, f"Bearer {token}") == "invalid_token"
            else:
                with pytest.raises(ServiceUnavailable):
                    await checker.learner_from_header(f"Bearer {token}")
        assert server.fetches == 1


async def test_a_rotated_key_is_fetched_after_the_refetch_interval() -> None:
    new_key = ec.generate_private_key(ec.SECP256R1())
    with JwksServer([public_jwk(EC_KEY, "ec-1", "ES256")]) as server:
        checker = TokenVerifier(jwt_secret=None, jwks_url=server.url)
        assert checker._jwks is not None
        old = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
        await checker.learner_from_header(f"Bearer {old}")
        server.keys = [public_jwk(EC_KEY, "ec-1", "ES256"), public_jwk(new_key, "ec-2", "ES256")]
        rotated = signed_token(new_key, "ec-2", "ES256", str(uuid.uuid4()))
        # within the interval the new kid is unknown: refused, and nothing fetched
        assert await code_of(checker, f"Bearer {rotated}") == "invalid_token"
        assert server.fetches == 1
        checker._jwks.refetch_interval = 0
        await checker.learner_from_header(f"Bearer {rotated}")
        await checker.learner_from_header(f"Bearer {old}")  # the old key still verifies
        assert server.fetches == 2


async def test_an_outage_keeps_the_keys_already_fetched() -> None:
    with JwksServer([public_jwk(EC_KEY, "ec-1", "ES256")]) as server:
        checker = TokenVerifier(jwt_secret=None, jwks_url=server.url)
        assert checker._jwks is not None
        token = signed_token(EC_KEY, "ec-1", "ES256", str(uuid.uuid4()))
        await checker.learner_from_header(f"Bearer {token}")
        server.status = 503
        checker._jwks.lifespan = 0  # expired: the next call refetches, and that fails
        checker._jwks.refetch_interval = 0
        learner = await checker.learner_from_header(f"Bearer {token}")
        assert server.fetches == 2
        assert learner.id
