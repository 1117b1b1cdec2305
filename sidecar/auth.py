"""Who is calling: a Supabase access token, verified here; the learner's id comes only from it.

Supabase signs access tokens either with the project's shared JWT secret (HS256) or with an
asymmetric signing key published at `/auth/v1/.well-known/jwks.json` (ES256 or RS256). Both
are accepted when configured; the token's own `alg` header only picks which key to try, and
an HS256 token is never checked against a public key or the other way round. When the
project's URL is known, the token must name its Auth server as `iss`.

The key set is fetched at most once per `refetch_interval` whatever callers send: a token naming
a key id the set lacks, an empty set and an unreachable Auth server are each remembered until
then, so forged tokens cannot make the sidecar fetch on every request. A missing key is the
caller's problem (401); an unreachable key set is ours (503, the learner's token may be fine).

Anonymous sign-ins (`is_anonymous: true`) are learners too (they may browse and read free
lessons), but routes that take money refuse them: see `require_signed_up`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
import jwt
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from sidecar.errors import NotAuthenticated, ServiceUnavailable, SignUpRequired

AUDIENCE = "authenticated"
ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})


@dataclass(frozen=True, slots=True)
class Learner:
    """The caller, as the verified token names them."""

    id: UUID
    is_anonymous: bool = False


class KeySetUnavailable(Exception):
    """The Auth server's key set could not be fetched (now, or at the last try)."""


@dataclass(eq=False)
class KeySet:
    """The project's JWKS, fetched at most once per `refetch_interval` (and kept `lifespan`).

    A key id the cached set lacks triggers one refetch (keys rotate), unless the set was fetched
    or tried within `refetch_interval`; concurrent callers share one fetch.
    """

    url: str
    lifespan: float = 600.0
    refetch_interval: float = 30.0
    timeout: float = 5.0
    fetches: int = 0
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float | None = None
    _tried_at: float | None = None
    _unreachable: bool = False
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def key(self, kid: str) -> jwt.PyJWK:
        if (found := self._fresh(kid)) is not None:
            return found
        async with self._lock:
            if (found := self._fresh(kid)) is not None:
                return found
            if self._may_fetch():
                await self._fetch()
            if kid in self._keys:
                return self._keys[kid]
            if self._unreachable:
                raise KeySetUnavailable(self.url)
            raise jwt.PyJWKClientError(f"no key {kid!r} in the key set")

    def _fresh(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > self.lifespan:
            return None
        return self._keys.get(kid)

    def _may_fetch(self) -> bool:
        return self._tried_at is None or time.monotonic() - self._tried_at >= self.refetch_interval

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        self.fetches += 1
        client = jwt.PyJWKClient(
            self.url, cache_keys=False, cache_jwk_set=False, timeout=self.timeout
        )
        try:
            # PyJWKClient fetches with urllib (blocking): off the event loop.
            data = await anyio.to_thread.run_sync(client.fetch_data)
        except (jwt.PyJWKClientError, ValueError):  # no answer, an HTTP error, or not a JSON object
            self._unreachable = True
            return
        self._unreachable = False
        self._fetched_at = self._tried_at
        try:
            keys = jwt.PyJWKSet.from_dict(data).keys
        except jwt.PyJWTError:  # empty, or no key this library can use: no keys, not an outage
            keys = []
        self._keys = {
            key.key_id: key for key in keys if key.key_id and key.public_key_use in (None, "sig")
        }


class TokenVerifier:
    def __init__(
        self,
        *,
        jwt_secret: str | None,
        jwks_url: str | None,
        issuer: str | None = None,
        leeway_seconds: float = 0,
    ) -> None:
        self._issuer = issuer
        self._secret = jwt_secret
        self._jwks = KeySet(jwks_url) if jwks_url else None
        self._leeway = leeway_seconds

    async def learner_from_header(self, authorization: str | None) -> Learner:
        if not authorization:
            raise NotAuthenticated(
                "Send Authorization: Bearer <access token>.", code="missing_token"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(
                "Send Authorization: Bearer <access token>.", code="missing_token"
            )
        return await self.learner_from_token(token.strip())

    async def learner_from_token(self, token: str) -> Learner:
        try:
            key, algorithm = await self._key_for(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "aud", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The access token has expired.", code="token_expired") from None
        except KeySetUnavailable:
            raise ServiceUnavailable(
                "The sign-in service's keys cannot be fetched right now.", code="jwks_unavailable"
            ) from None
        except jwt.PyJWTError:
            raise NotAuthenticated("The access token is not valid.", code="invalid_token") from None
        if claims.get("role") != AUDIENCE:
            raise NotAuthenticated(
                "The access token is not a signed-in learner's.", code="invalid_token"
            )
        anonymous = claims.get("is_anonymous", False)
        if not isinstance(anonymous, bool):
            raise NotAuthenticated("The access token is not valid.", code="invalid_token")
        try:
            return Learner(id=UUID(str(claims["sub"])), is_anonymous=anonymous)
        except ValueError:
            raise NotAuthenticated("The access token is not valid.", code="invalid_token") from None

    async def _key_for(self, token: str) -> tuple[Any, str]:
        algorithm = jwt.get_unverified_header(token).get("alg")
        if not isinstance(algorithm, str):  # the header is the caller's: any JSON at all
            raise jwt.InvalidAlgorithmError("alg is not a string")
        if algorithm == "HS256" and self._secret:
            return self._secret, algorithm
        if algorithm in ASYMMETRIC_ALGORITHMS and self._jwks is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str):
                raise jwt.InvalidTokenError("kid is not a string")
            signing_key = await self._jwks.key(kid)
            if signing_key.algorithm_name != algorithm:
                raise jwt.InvalidAlgorithmError("token alg does not match its key")
            return signing_key, algorithm
        raise jwt.InvalidAlgorithmError(f"unsupported or unconfigured alg {algorithm!r}")


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to the `Learner`; runs before the body is read or validated."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        verifier: TokenVerifier = connection.app.state.token_verifier
        learner = await verifier.learner_from_header(connection.headers.get("authorization"))
        return AuthenticationResult(user=learner, auth=None)


async def require_signed_up(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard for routes that take money: an anonymous sign-in could lose what it paid for.

    A coroutine: Litestar runs a plain function guard in a worker thread (about a tenth of a
    checkout's CPU went to that hop)."""
    learner: Learner = connection.user
    if learner.is_anonymous:
        raise SignUpRequired()
