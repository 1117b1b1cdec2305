"""Supabase Auth's JWT signing keys: an ES256 key pair per project, published as a JWKS.

A project created today signs access tokens with an asymmetric key (ES256, P-256) and
publishes its public half at `/auth/v1/.well-known/jwks.json`, each key named by `kid`.
As on Supabase's dashboard, a standby key can be created first (published, not yet
signing, so verifiers' cached key sets hold it before any token carries it); rotating
makes the standby key (or a new one) the one that signs, and the previous one stays
published (and accepted) until every token it signed has expired, so nobody is signed out.

Projects still on the legacy JWT secret sign with HS256 and publish no key (a symmetric
secret is never published). Either way, tokens signed with the legacy secret are accepted:
the legacy `anon` / `service_role` API keys are such tokens.

The key pairs live in a JSON file when one is given (the devstack keeps it under
`.devstack/`, never committed), so a restart keeps learners signed in; otherwise in memory
(tests: a fresh key every run).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

Algorithm = Literal["ES256", "HS256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ES256", "HS256")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_jwk: dict[str, Any]
    created_at: float
    # When a newer key took over signing; the key stays published for a token's lifetime more.
    retired_at: float | None = None
    # Published ahead of signing, for the next rotation.
    standby: bool = False

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = ECAlgorithm.from_jwk(self.private_jwk)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def public_jwk(self) -> dict[str, Any]:
        """As GoTrue publishes it: the public half, for verifying only."""
        public = {k: v for k, v in self.private_jwk.items() if k in ("kty", "crv", "x", "y")}
        return {**public, "kid": self.kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}


def new_key() -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private))
    return SigningKey(kid=str(uuid.uuid4()), private_jwk=jwk, created_at=time.time())


class SigningKeys:
    """The project's signing keys: sign with the current one, verify with any published one."""

    def __init__(
        self,
        *,
        algorithm: Algorithm,
        legacy_secret: str,
        token_lifetime: float,
        path: Path | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"signing algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
        self.algorithm = algorithm
        self._secret = legacy_secret
        self._lifetime = token_lifetime
        self._path = path
        self._lock = threading.Lock()
        self._keys: list[SigningKey] = self._load() if algorithm == "ES256" else []

    # --- the key file ------------------------------------------------------------------------

    def _load(self) -> list[SigningKey]:
        if self._path is not None and self._path.exists():
            stored = json.loads(self._path.read_text())
            keys = [SigningKey(**entry) for entry in stored["keys"]]
            if keys:
                return keys
        keys = [new_key()]
        self._save(keys)
        return keys

    def _save(self, keys: list[SigningKey]) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        entries = [
            {
                "kid": k.kid,
                "private_jwk": k.private_jwk,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
                "standby": k.standby,
            }
            for k in keys
        ]
        partial = self._path.with_suffix(".tmp")
        # private keys: readable by the owner only, and replaced whole
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"keys": entries}, out, indent=2)
        partial.replace(self._path)

    # --- what the project publishes ----------------------------------------------------------

    def _published(self, now: float) -> list[SigningKey]:
        """The current key and each retired one a still-unexpired token may carry."""
        return [
            k for k in self._keys if k.retired_at is None or now < k.retired_at + self._lifetime
        ]

    def _current(self) -> SigningKey:
        return next(k for k in reversed(self._keys) if not k.standby)

    @property
    def current_kid(self) -> str | None:
        return self._current().kid if self._keys else None

    def add_standby(self) -> str:
        """A standby key: published now, signing from the next rotation."""
        if self.algorithm != "ES256":
            raise ValueError("the project signs with its legacy HS256 secret: no key to add")
        with self._lock:
            standby = [k for k in self._keys if k.standby]
            if standby:
                return standby[0].kid
            keys = [*self._keys, SigningKey(**{**new_key().__dict__, "standby": True})]
            self._save(keys)
            self._keys = keys
            return keys[-1].kid

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [k.public_jwk() for k in self._published(time.time())]}

    def rotate(self) -> str:
        """The standby key (or a new one) signs from now; the old one is retired, published
        until its tokens expire."""
        if self.algorithm != "ES256":
            raise ValueError("the project signs with its legacy HS256 secret: no key to rotate")
        with self._lock:
            now = time.time()
            standby = [k for k in self._keys if k.standby]
            promoted = SigningKey(**{**standby[0].__dict__, "standby": False}) if standby else None
            keys = [
                k if k.retired_at is not None else SigningKey(**{**k.__dict__, "retired_at": now})
                for k in self._published(now)
                if not k.standby
            ]
            keys.append(promoted or new_key())
            self._save(keys)
            self._keys = keys
            return keys[-1].kid

    # --- tokens ------------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any]) -> str:
        """An access token as GoTrue signs it: ES256 with `kid`, or legacy HS256."""
        if self.algorithm == "HS256":
            return jwt.encode(claims, self._secret, "HS256", headers={"typ": "JWT"})
        with self._lock:
            key = self._current()
        return jwt.encode(
            claims, key.private_key(), "ES256", headers={"typ": "JWT", "kid": key.kid}
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The verified claims; raises jwt.PyJWTError. HS256 only with the legacy secret,
        ES256 only with a published key named by `kid`. Audience is not checked: API keys
        have none, and neither PostgREST (no jwt-aud on Supabase) nor GoTrue checks it."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") == "HS256":
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"verify_aud": False}
            )
            return claims
        if header.get("alg") == "ES256":
            with self._lock:
                found = [k for k in self._published(time.time()) if k.kid == header.get("kid")]
            if not found:
                raise jwt.InvalidKeyError("no published signing key has that kid")
            public = found[0].private_key().public_key()
            claims = jwt.decode(token, public, algorithms=["ES256"], options={"verify_aud": False})
            return claims
        raise jwt.InvalidAlgorithmError("the token's alg is not one this project signs with")
