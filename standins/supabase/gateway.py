"""The API gateway's part: every request shows a project API key before GoTrue or PostgREST
sees it, and the gateway decides what `Authorization` the service gets.

As Supabase's gateway does (its request-transformer in front of Auth and PostgREST):

- `apikey` (header or query parameter) is the project's publishable key (acts as `anon`),
  one of its secret keys (`service_role`), or a legacy `anon`/`service_role` JWT signed
  with the project's JWT secret. Anything else is 401 "Invalid API key"; none is 401 "No
  API key found in request". A secret key from a browser (a `Mozilla/` User-Agent) is 401.
- `Authorization: Bearer <JWT>` (a user's access token) is passed on as it is.
- `Authorization: Bearer sb_…` is not a token: equal to `apikey` (supabase-js sends the key
  in both headers when nobody is signed in) it is replaced, like a missing header, by a
  short-lived JWT of the key's role the gateway signs; any other `sb_…` value is 401.
- With a legacy key and no Authorization, the key itself is the bearer token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from litestar import Request
from litestar.di import NamedDependency

from standins.supabase import tokens
from standins.supabase.config import StandInConfig
from standins.supabase.errors import GatewayError
from standins.supabase.signing import SigningKeys

# The gateway's own token for an opaque key's role lives as long as one request needs.
ROLE_TOKEN_SECONDS = 60
INVALID_KEY_HINT = "Double check your Supabase `anon` or `service_role` API key."


@dataclass(frozen=True)
class Caller:
    api_key_role: str
    # The bearer token to act as: the user's access token, or a token of the API key's role.
    token: str


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def signing_keys(request: Request[Any, Any, Any]) -> SigningKeys:
    keys: SigningKeys = request.app.state.signing_keys
    return keys


def _from_browser(request: Request[Any, Any, Any]) -> bool:
    # Supabase tells a browser by its User-Agent; every browser's starts with Mozilla/.
    return request.headers.get("user-agent", "").startswith("Mozilla/")


def _opaque_key_role(key: str, config: StandInConfig) -> str | None:
    if hmac.compare_digest(key.encode(), config.publishable_key.encode()):
        return "anon"
    if hmac.compare_digest(key.encode(), config.secret_key.encode()):
        return "service_role"
    return None


def caller(request: Request[Any, Any, Any], config: NamedDependency[StandInConfig]) -> Caller:
    key = request.headers.get("apikey") or request.query_params.get("apikey")
    if not key:
        raise GatewayError(
            "No API key found in request",
            "No `apikey` request header or url param was found.",
        )
    bearer = bearer_token(request)
    keys = signing_keys(request)
    if tokens.is_opaque_key(key):
        role = _opaque_key_role(key, config)
        if role is None:
            raise GatewayError("Invalid API key", INVALID_KEY_HINT)
        if role == "service_role" and _from_browser(request):
            raise GatewayError(
                "Forbidden use of secret API key in browser",
                "Secret API keys can only be used in a protected environment and should never"
                " be used in a browser. Use the publishable key there instead.",
            )
    else:
        # a legacy key: an HS256 JWT signed with the project's JWT secret
        try:
            legacy = jwt.get_unverified_header(key).get("alg") == "HS256"
            claims = keys.verify(key) if legacy else {}
        except jwt.PyJWTError:
            claims = {}
        role = claims.get("role")
        if role not in tokens.API_KEY_ROLES:
            raise GatewayError("Invalid API key", INVALID_KEY_HINT)
    if bearer is not None and tokens.is_opaque_key(bearer):
        if bearer != key:
            raise GatewayError(
                "Invalid API key",
                "An `sb_` key in `Authorization: Bearer` must equal the `apikey` header.",
            )
        bearer = None
    if bearer is None:
        if tokens.is_opaque_key(key):
            issued = tokens.now()
            bearer = keys.sign(
                {
                    "iss": config.issuer,
                    "role": role,
                    "iat": issued,
                    "exp": issued + ROLE_TOKEN_SECONDS,
                }
            )
        else:
            bearer = key
    return Caller(api_key_role=str(role), token=bearer)


ConfigDep = NamedDependency[StandInConfig]
CallerDep = NamedDependency[Caller]  # the gateway's verdict, injected into every API handler
