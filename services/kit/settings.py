from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_AUTH_SECRET = "dev-only-secret-change-me-before-production"


class ServiceSettings(BaseSettings):
    """Settings every service reads from `OPS_*` environment variables; each service subclasses it to set
    its name and port."""

    model_config = SettingsConfigDict(env_prefix="OPS_", extra="ignore")

    service_name: str = "service"
    # What this process does: `all` (HTTP API and consumers), `api` (HTTP API only) or `worker` (consumers, with
    # only the operations endpoints over HTTP). All three relay their outbox. `--role` on the command line sets it.
    role: Literal["all", "api", "worker"] = "all"
    port: int = 8000
    host: str = "127.0.0.1"
    # The path prefix a reverse proxy strips before the request reaches us (e.g. `/api/ticketing`), so that
    # /docs and the OpenAPI links work behind the Ingress.
    root_path: str = ""
    # Seconds uvicorn gives open HTTP requests at shutdown, before consumers stop and the outbox drains.
    shutdown_grace_seconds: float = 20.0
    # Seconds an idle keep-alive connection stays open. Above the usual proxy and load-balancer idle timeouts
    # (60 s), so that a proxy never sends a request on a connection we are closing (uvicorn's default is 5 s).
    keep_alive_seconds: float = 75.0
    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str | None = None
    # Write concern of every write (unset: the URL's or the server's default). Production replica sets use
    # `majority` with the journal (deploy/k8s), so an acknowledged ticket survives the loss of a member.
    mongo_write_concern: str | None = None
    mongo_journal: bool | None = None
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    auth_secret: str = DEV_AUTH_SECRET
    # OIDC sign-in (docs/api.md "OIDC sign-in"). With an issuer set, only that issuer's tokens are accepted
    # (RS256/ES256 against its JWKS, found through <issuer>/.well-known/openid-configuration): HS256 tokens
    # signed with auth_secret, the development sign-in's, are refused. `aud` must be oidc_audience.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_algorithms: list[str] = ["RS256"]
    # Where our Principal's fields are in the IdP's claims: a claim name or a dotted path (realm_access.roles).
    oidc_sub_claim: str = "sub"
    oidc_name_claim: str = "name"
    oidc_roles_claim: str = "roles"
    oidc_city_claim: str = "city"
    oidc_products_claim: str = "products"
    oidc_vendor_claim: str = "vendor"
    # Intake channels (role intake) then use client-credentials tokens of the same issuer, with this claim.
    oidc_channel_claim: str = "channel"
    # JSON: the IdP's group or role → one of our roles (or a list of them), e.g. {"ops-agents": "agent"}.
    # Values that are our role names already pass as they are; any other value is dropped.
    oidc_role_map: dict[str, str | list[str]] = {}
    # The JWKS is kept this many seconds; an unknown `kid` refetches it, at most once per cooldown.
    oidc_jwks_lifespan_seconds: float = 300.0
    oidc_jwks_cooldown_seconds: float = 30.0
    oidc_http_timeout_seconds: float = 5.0
    # A prefix for exchange and queue names, so that a test run shares a broker with a running stack unharmed.
    namespace: str = ""
    log_format: str = "console"
    log_level: str = "INFO"
    # Consumers: attempts before a message goes to its dead-letter queue, and messages in flight per queue.
    max_attempts: int = 5
    prefetch: int = 32
    outbox_poll_seconds: float = 1.0
    outbox_lease_seconds: float = 10.0
    # While this process's relay is a whole batch behind, a new document with events waits up to this long for it
    # to catch up (Store.insert): at saturation the intake slows to what the relay publishes instead of piling up
    # an outbox that takes many seconds to drain. 0: never wait.
    outbox_backpressure_seconds: float = 1.0

    @property
    def database(self) -> str:
        return self.mongo_db or f"ops_{self.service_name}"

    def name(self, base: str) -> str:
        """Broker object name in this settings' namespace."""
        return f"{self.namespace}.{base}" if self.namespace else base
