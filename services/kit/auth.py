"""JWT bearer auth (SPEC §5): HS256 with `OPS_AUTH_SECRET`; claims sub, name, roles, city, products, vendor,
channel. 401 without a valid token, 403 when the role does not allow the action."""

from __future__ import annotations

import time
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


def decode_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
        return Principal.model_validate(claims)
    except (jwt.PyJWTError, ValidationError) as error:
        raise Problem(401, "unauthorized", "Invalid token", str(error).split("\n")[0],
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from error


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
