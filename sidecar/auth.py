"""Who is calling: a Supabase access token, verified here; the learner's id comes only from it.

Supabase signs access tokens either with the project's shared JWT secret (HS256) or with an
asymmetric signing key published at `/auth/v1/.well-known/jwks.json` (ES256 or RS256). Both
are accepted when configured; the token's own `alg` header only picks which key to try, and
an HS256 token is never checked against a public key or the other way round. When the
project's URL is known, the token must name its Auth server as `iss`.

Anonymous sign-ins (`is_anonymous: true`) are learners too (they may browse and read free
lessons), but routes that take money refuse them: see `require_signed_up`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

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
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=600, timeout=5)
            if jwks_url
            else None
        )
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
        except jwt.PyJWKClientConnectionError:
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
            # PyJWKClient fetches with urllib (blocking); its cache makes this a lookup
            # after the first call, but the first call must not stall the event loop.
            signing_key = await anyio.to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
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


def require_signed_up(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard for routes that take money: an anonymous sign-in could lose what it paid for."""
    learner: Learner = connection.user
    if learner.is_anonymous:
        raise SignUpRequired()
