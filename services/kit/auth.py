"""JWT bearer auth (SPEC §5): HS256 with `OPS_AUTH_SECRET`; claims sub, name, roles, city, products, vendor,
channel. 401 without a valid token, 403 when the role does not allow the action.

With `OPS_OIDC_ISSUER` set, the services accept only that issuer's tokens instead (docs/api.md "OIDC sign-in"):
signed with a key of its JWKS (PyJWKClient: the key set is cached, an unknown `kid` refetches it at most once a
cooldown), `iss` the issuer, `aud` OPS_OIDC_AUDIENCE, not expired; the claims are mapped to a Principal by the
OPS_OIDC_*_CLAIM settings and OPS_OIDC_ROLE_MAP. HS256 tokens (the development sign-in's) are then refused."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from contracts.vocabulary import Role
from services.kit.problems import Problem
from services.kit.settings import ServiceSettings

bearer = HTTPBearer(auto_error=False, description="JWT signed with OPS_AUTH_SECRET (mint one: make token ROLE=agent), "
                                                   "or, with OPS_OIDC_ISSUER set, an access token of that issuer")


class Principal(BaseModel):
    sub: str
    name: str | None = None
    roles: list[Role]
    city: str | None = None
    products: list[str] = []
    vendor: str | None = None
    channel: str | None = None

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def display(self) -> str:
        return self.name or self.sub


def mint_token(secret: str, *, sub: str, roles: Iterable[str], ttl_seconds: int = 12 * 3600, **claims) -> str:
    now = int(time.time())
    payload = {"sub": sub, "roles": list(roles), "iat": now, "exp": now + ttl_seconds,
               **{k: v for k, v in claims.items() if v not in (None, [], "")}}
    return jwt.encode(payload, secret, algorithm="HS256")


# Verified tokens by (secret, token) → (principal, expiry): a channel sends the same token with every request,
# and checking its signature and claims again cost about a tenth of an intake's CPU. Bounded; an entry is
# used only until the token expires.
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()
VERIFIED_MAX = 4096


def _invalid(error: Exception | str) -> Problem:
    return Problem(401, "unauthorized", "Invalid token", str(error).split("\n")[0],
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def decode_token(secret: str, token: str) -> Principal:
    key = (secret, token)
    hit = _verified.get(key)
    if hit is not None and time.time() < hit[1]:
        _verified.move_to_end(key)
        return hit[0]
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
        principal = Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as error:
        _verified.pop(key, None)
        raise _invalid(error) from error
    _remember(key, principal, float(claims["exp"]))
    return principal


def _remember(key: tuple[str, str], principal: Principal, expires: float) -> None:
    _verified[key] = (principal, expires)
    if len(_verified) > VERIFIED_MAX:
        _verified.popitem(last=False)


# --- OIDC -------------------------------------------------------------------------------------------------------

def claim(claims: dict, path: str):
    """A claim by name, or by a dotted path into nested objects (`realm_access.roles`); None when absent. A claim
    whose own name has dots (`https://example.com/roles`) is found by its full name first."""
    if path in claims:
        return claims[path]
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (p.strip() for p in value.replace(",", " ").split()) if v]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def map_roles(values: Iterable[str], role_map: dict[str, str | list[str]]) -> list[Role]:
    """Our roles for the IdP's groups or roles: through the map, or as they are when they are our role names
    already; anything else (offline_access, another application's groups) is dropped. In order, no repeats."""
    known = {r.value for r in Role}
    roles: list[Role] = []
    for value in values:
        mapped = role_map.get(value, value if value in known else None)
        for name in _strings(mapped) if not isinstance(mapped, list) else mapped:
            if name in known and Role(name) not in roles:
                roles.append(Role(name))
    return roles


def principal_from_claims(claims: dict, settings: ServiceSettings) -> Principal:
    """Our Principal from an OIDC token's verified claims, by the OPS_OIDC_* mapping settings."""
    def text(path: str) -> str | None:
        value = claim(claims, path)
        if isinstance(value, list):
            value = value[0] if value else None
        return str(value) if value not in (None, "") else None

    return Principal(sub=text(settings.oidc_sub_claim) or "", name=text(settings.oidc_name_claim),
                     roles=map_roles(_strings(claim(claims, settings.oidc_roles_claim)), settings.oidc_role_map),
                     city=text(settings.oidc_city_claim),
                     products=_strings(claim(claims, settings.oidc_products_claim)),
                     vendor=text(settings.oidc_vendor_claim), channel=text(settings.oidc_channel_claim))


class OidcVerifier:
    """One issuer's keys: its discovery document read once (again after a failure), its JWKS through PyJWKClient,
    which caches the key set for `lifespan` seconds and refetches it on an unknown `kid`, at most once a cooldown."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=self.settings.oidc_http_timeout_seconds) as answer:
                        jwks_uri = json.load(answer)["jwks_uri"]
                except (OSError, ValueError, KeyError) as error:
                    raise Problem(503, "identity-provider-unavailable", "Identity provider unavailable",
                                  f"Cannot read {url}: {error}") from error
                self._client = jwt.PyJWKClient(
                    jwks_uri, cache_keys=False, cache_jwk_set=True,
                    lifespan=self.settings.oidc_jwks_lifespan_seconds,
                    cooldown_duration=self.settings.oidc_jwks_cooldown_seconds,
                    timeout=self.settings.oidc_http_timeout_seconds)
            return self._client

    def verify(self, token: str) -> tuple[Principal, float]:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in settings.oidc_algorithms:
                raise _invalid(f"Only tokens of the identity provider {self.issuer} are accepted "
                               f"(alg {', '.join(settings.oidc_algorithms)}), not alg {header.get('alg')}.")
            key = self.jwks().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=settings.oidc_algorithms, issuer=settings.oidc_issuer,
                                audience=settings.oidc_audience,
                                options={"require": ["exp", "iss", "sub"], "verify_aud": True})
            principal = principal_from_claims(claims, settings)
        except jwt.PyJWKClientConnectionError as error:
            raise Problem(503, "identity-provider-unavailable", "Identity provider unavailable",
                          str(error).split("\n")[0]) from error
        except (jwt.PyJWTError, ValidationError) as error:
            raise _invalid(error) from error
        return principal, float(claims["exp"])


_verifiers: dict[tuple, OidcVerifier] = {}


def verifier(settings: ServiceSettings) -> OidcVerifier:
    key = (settings.oidc_issuer, settings.oidc_audience, id(settings))
    found = _verifiers.get(key)
    if found is None:
        found = _verifiers.setdefault(key, OidcVerifier(settings))
    return found


async def decode_oidc_token(settings: ServiceSettings, token: str) -> Principal:
    key = ("oidc:" + str(settings.oidc_issuer) + "|" + str(settings.oidc_audience) + f"|{id(settings)}", token)
    hit = _verified.get(key)
    if hit is not None and time.time() < hit[1]:
        _verified.move_to_end(key)
        return hit[0]
    _verified.pop(key, None)
    # In a thread: fetching the discovery document or the JWKS is blocking I/O (rare: the key set is cached).
    principal, expires = await run_in_threadpool(verifier(settings).verify, token)
    _remember(key, principal, expires)
    return principal


async def authenticate(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if credentials is None:
        raise Problem(401, "unauthorized", "Authentication required", "Send Authorization: Bearer <token>.",
                      headers={"WWW-Authenticate": "Bearer"})
    settings = request.app.state.runtime.settings
    if settings.oidc_issuer:
        principal = await decode_oidc_token(settings, credentials.credentials)
    else:
        principal = decode_token(settings.auth_secret, credentials.credentials)
    structlog.contextvars.bind_contextvars(user=principal.sub)
    return principal


def require_roles(*roles: Role):
    """A dependency that lets only the given roles through (admin always)."""

    async def dependency(principal: Principal = Depends(authenticate)) -> Principal:
        if not principal.has(*roles, Role.admin):
            raise Problem(403, "forbidden", "Forbidden",
                          f"This action needs one of the roles: {', '.join(r.value for r in roles)}.")
        return principal

    return dependency
