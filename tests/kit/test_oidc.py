"""OIDC tokens through a real service route: an identity provider this test makes itself (an RSA key, its
discovery document and JWKS served by a small aiohttp server on a free port), the lifecycle app in-process with
OPS_OIDC_ISSUER pointing at it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.kit.auth import claim, map_roles, mint_token, principal_from_claims
from services.kit.settings import ServiceSettings
from services.lifecycle.main import create
from services.lifecycle.settings import Settings
from tests.support import running, settings_for

AUDIENCE = "ops-console"


class IdP:
    """An issuer with a key set it can rotate, counting how often its JWKS is read."""

    def __init__(self):
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.jwks_reads = 0
        self.issuer = ""
        self.runner: web.AppRunner | None = None

    def add_key(self) -> str:
        kid = uuid.uuid4().hex[:12]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    async def start(self) -> None:
        async def discovery(_):
            return web.json_response({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/protocol/certs",
                                      "authorization_endpoint": f"{self.issuer}/auth",
                                      "token_endpoint": f"{self.issuer}/token"})

        async def certs(_):
            self.jwks_reads += 1
            keys = []
            for kid, key in self.keys.items():
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
                keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
            return web.json_response({"keys": keys})

        app = web.Application()
        app.router.add_get("/realms/ops/.well-known/openid-configuration", discovery)
        app.router.add_get("/realms/ops/protocol/certs", certs)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.issuer = f"http://127.0.0.1:{port}/realms/ops"

    def token(self, kid: str | None = None, *, key: rsa.RSAPrivateKey | None = None, ttl: int = 300,
              **claims) -> str:
        kid = kid or next(iter(self.keys))
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": AUDIENCE, "sub": "u-" + uuid.uuid4().hex[:8], "iat": now,
                   "exp": now + ttl, "realm_access": {"roles": ["offline_access", "ops-agents"]}, **claims}
        return jwt.encode(payload, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
async def idp():
    provider = IdP()
    provider.add_key()
    await provider.start()
    yield provider
    await provider.runner.cleanup()


def oidc_settings(infra, idp, **overrides):
    return settings_for(Settings, infra, "lifecycle", oidc_issuer=idp.issuer, oidc_audience=AUDIENCE,
                        oidc_roles_claim="realm_access.roles", oidc_role_map={"ops-agents": "agent",
                                                                              "ops-pm": ["product_manager"]},
                        oidc_products_claim="ops_products", oidc_name_claim="preferred_username", **overrides)


@pytest.fixture
def app(infra, idp):
    return create(oidc_settings(infra, idp, oidc_jwks_cooldown_seconds=0))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(client, token: str, words: str) -> None:
    response = await client.get("/v1/products", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert words in response.json()["detail"].lower(), response.json()


async def test_a_valid_token_passes_a_real_route(app, idp):
    async with running(app) as client:
        response = await client.get("/v1/products", headers=bearer(idp.token()))
        assert response.status_code == 200, response.text
        assert response.json()["items"]


async def test_wrong_audience_issuer_expired_and_bad_signature_are_401(app, idp):
    async with running(app) as client:
        await refused(client, idp.token(aud="another-client"), "audience")
        await refused(client, idp.token(iss="http://127.0.0.1:1/realms/other"), "issuer")
        await refused(client, idp.token(ttl=-60), "expired")
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        await refused(client, idp.token(key=stranger), "signature")
        no_sub = idp.token()
        header, payload, signature = no_sub.split(".")
        forged = jwt.utils.base64url_encode(json.dumps({**jwt.decode(no_sub, options={"verify_signature": False}),
                                                        "realm_access": {"roles": ["admin"]}}).encode()).decode()
        await refused(client, f"{header}.{forged}.{signature}", "signature")


async def test_an_unknown_kid_refetches_the_key_set_and_a_never_seen_one_is_401(app, idp):
    async with running(app) as client:
        assert (await client.get("/v1/products", headers=bearer(idp.token()))).status_code == 200
        reads = idp.jwks_reads
        rotated = idp.add_key()  # the IdP rotates: a token with the new kid makes the services read the JWKS again
        assert (await client.get("/v1/products", headers=bearer(idp.token(rotated)))).status_code == 200
        assert idp.jwks_reads == reads + 1
        kid = rotated
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode({"iss": idp.issuer, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}, stranger,
                           algorithm="RS256", headers={"kid": "never-" + kid})
        await refused(client, token, "signing key")


async def test_unknown_kids_refetch_at_most_once_a_cooldown(infra, idp):
    app = create(oidc_settings(infra, idp, oidc_jwks_cooldown_seconds=60))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with running(app) as client:
        assert (await client.get("/v1/products", headers=bearer(idp.token()))).status_code == 200
        reads = idp.jwks_reads
        for n in range(5):
            token = jwt.encode({"iss": idp.issuer, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
                               stranger, algorithm="RS256", headers={"kid": f"bogus-{n}"})
            await refused(client, token, "signing key")
        assert idp.jwks_reads <= reads + 1


async def test_roles_are_mapped_and_unmapped_groups_give_no_rights(app, idp):
    async with running(app) as client:
        # No role of ours (only offline_access): authenticated, but every role-guarded action is 403.
        nobody = idp.token(realm_access={"roles": ["offline_access", "uma_authorization"]})
        response = await client.post("/v1/products", headers=bearer(nobody), json={})
        assert response.status_code == 403, response.text


async def test_hs256_development_tokens_are_refused_when_oidc_is_on(app, infra, idp):
    async with running(app) as client:
        dev = mint_token(infra.auth_secret, sub="agent-01", roles=["admin"])
        await refused(client, dev, "only tokens of the identity provider")
        # Nor can a token be signed with the JWKS's public key as an HMAC secret (alg confusion).
        public_pem = idp.keys[next(iter(idp.keys))].public_key().public_bytes(
            encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo)
        header = {"alg": "HS256", "kid": next(iter(idp.keys))}
        payload = {"iss": idp.issuer, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "roles": ["admin"]}
        segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, payload)]
        signature = jwt.utils.base64url_encode(hmac.new(public_pem, b".".join(segments), hashlib.sha256).digest())
        await refused(client, b".".join([*segments, signature]).decode(), "only tokens of the identity provider")


async def test_the_identity_provider_unreachable_is_503_in_words(infra):
    app = create(settings_for(Settings, infra, "lifecycle", oidc_issuer="http://127.0.0.1:9/realms/none",
                              oidc_audience=AUDIENCE, oidc_http_timeout_seconds=1))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, key, algorithm="RS256", headers={"kid": "k"})
    async with running(app) as client:
        response = await client.get("/v1/products", headers=bearer(token))
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "openid-configuration" in response.json()["detail"]


# --- the claim mapping alone ----------------------------------------------------------------------------------

def test_claims_by_name_or_dotted_path():
    claims = {"realm_access": {"roles": ["a"]}, "https://ops.example/city": "济南", "groups": "x, y"}
    assert claim(claims, "realm_access.roles") == ["a"]
    assert claim(claims, "https://ops.example/city") == "济南"
    assert claim(claims, "realm_access.missing") is None and claim(claims, "nope") is None


def test_role_map_with_lists_and_our_own_names_passing():
    role_map = {"/ops/agents": "agent", "ops-pm": ["product_manager", "analyst"], "ops-x": "not-a-role"}
    assert map_roles(["/ops/agents", "ops-pm", "ops-x", "vendor", "offline_access", "agent"], role_map) == [
        "agent", "product_manager", "analyst", "vendor"]


def test_principal_from_mapped_claims():
    settings = ServiceSettings(oidc_issuer="http://idp", oidc_roles_claim="realm_access.roles",
                               oidc_role_map={"ops-am": "account_manager"}, oidc_city_claim="attrs.city",
                               oidc_products_claim="attrs.products", oidc_vendor_claim="attrs.vendor",
                               oidc_name_claim="preferred_username")
    principal = principal_from_claims({"sub": "u1", "preferred_username": "张三",
                                       "realm_access": {"roles": ["ops-am"]},
                                       "attrs": {"city": ["济南"], "products": "mobile_office,cloud_meeting",
                                                 "vendor": None}}, settings)
    assert principal.sub == "u1" and principal.name == "张三" and principal.roles == ["account_manager"]
    assert principal.city == "济南" and principal.products == ["mobile_office", "cloud_meeting"]
    assert principal.vendor is None and principal.channel is None
    machine = principal_from_claims({"sub": "service-account-crm", "realm_access": {"roles": ["intake"]},
                                     "channel": "crm"}, settings)
    assert machine.roles == ["intake"] and machine.channel == "crm"


def test_role_map_is_read_from_json_in_the_environment(monkeypatch):
    monkeypatch.setenv("OPS_OIDC_ROLE_MAP", '{"ops-agents": "agent", "ops-pm": ["product_manager"]}')
    monkeypatch.setenv("OPS_OIDC_ISSUER", "https://sso.example/realms/ops")
    settings = ServiceSettings()
    assert settings.oidc_role_map == {"ops-agents": "agent", "ops-pm": ["product_manager"]}
    assert settings.oidc_issuer == "https://sso.example/realms/ops"


# --- the gateway (scripts/gateway.py): development sign-in off, the console told to use OIDC ------------------

async def gateway_answers(env: dict[str, str]) -> tuple[int, dict, dict]:
    from aiohttp.test_utils import TestClient, TestServer

    from scripts.gateway import create_app as gateway
    async with TestClient(TestServer(gateway(services={}, env=env))) as client:
        token = await client.post("/dev/token", json={"sub": "agent-01", "roles": ["agent"]})
        config = await client.get("/console-config.json")
        return token.status, await token.json(), await config.json()


async def test_gateway_dev_token_is_404_and_the_config_names_the_issuer_when_oidc_is_on():
    status, body, config = await gateway_answers({"OPS_OIDC_ISSUER": "https://sso.example/realms/ops",
                                                  "OPS_OIDC_CLIENT_ID": "ops-console"})
    assert status == 404 and "OIDC" in body["detail"]
    assert config == {"issuer": "https://sso.example/realms/ops", "client_id": "ops-console",
                      "redirect_path": "/signin/callback", "scope": "openid profile"}


def test_gateway_config_carries_the_claim_mapping():
    from scripts.gateway import console_config
    config = console_config({"OPS_OIDC_ISSUER": "https://sso", "OPS_OIDC_ROLES_CLAIM": "realm_access.roles",
                             "OPS_OIDC_ROLE_MAP": '{"ops-agents": "agent"}'})
    assert config["roles_claim"] == "realm_access.roles" and config["role_map"] == {"ops-agents": "agent"}


async def test_gateway_without_an_issuer_keeps_the_development_sign_in():
    status, body, config = await gateway_answers({})
    assert status == 200 and body["token"] and config == {}
