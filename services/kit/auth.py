"""JWT bearer auth (SPEC §5): HS256 with `OPS_AUTH_SECRET`; claims sub, name, roles, city, products, vendor,
channel. 401 without a valid token, 403 when the role does not allow the action."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from contracts.vocabulary import Role
from services.kit.problems import Problem

bearer = HTTPBearer(auto_error=False, description="JWT signed with OPS_AUTH_SECRET (mint one: make token ROLE=agent)")


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
        raise Problem(401, "unauthorized", "Invalid token", str(error).split("\n")[0],
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from error
    _verified[key] = (principal, float(claims["exp"]))
    if len(_verified) > VERIFIED_MAX:
        _verified.popitem(last=False)
    return principal


async def authenticate(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    if credentials is None:
        raise Problem(401, "unauthorized", "Authentication required", "Send Authorization: Bearer <token>.",
                      headers={"WWW-Authenticate": "Bearer"})
    principal = decode_token(request.app.state.runtime.settings.auth_secret, credentials.credentials)
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
