"""The console's one origin locally (what the Kubernetes Ingress does in production): the built console at `/`,
each service's API under `/api/<service>/` (ticketing, lifecycle, knowledge, analytics), and, only while the
development secret is in use, `POST /dev/token` for the development sign-in page.

Why a process of its own rather than a static mount in one service: the four services stay what they are in
production (APIs only, behind the Ingress), and the console never talks to another origin, so it needs no CORS.

Environment: `OPS_CONSOLE_PORT` (default 8000), `OPS_<SERVICE>_URL` (default http://127.0.0.1:<its port>),
`OPS_CONSOLE_DIST` (default console/dist), `OPS_AUTH_SECRET` (the services' secret; the development one unless set),
`OPS_OIDC_ISSUER` and `OPS_OIDC_CLIENT_ID` (+ optional `OPS_OIDC_SCOPE`, `OPS_OIDC_REDIRECT_PATH`): with an issuer,
`/console-config.json` tells the console to sign in with OIDC and `POST /dev/token` answers 404 (the services then
accept only the issuer's tokens). Without one, `/console-config.json` is `{}` (the development sign-in page).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.kit.auth import mint_token  # noqa: E402
from services.kit.settings import DEV_AUTH_SECRET  # noqa: E402

SERVICES = {"ticketing": 8001, "lifecycle": 8002, "knowledge": 8003, "analytics": 8004}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
DEV_TOKEN_HOURS = 12


def problem(status: int, title: str, detail: str) -> web.Response:
    return web.json_response({"type": "about:blank", "title": title, "status": status, "detail": detail},
                             status=status, content_type="application/problem+json")


def service_urls() -> dict[str, str]:
    return {name: os.environ.get(f"OPS_{name.upper()}_URL", f"http://127.0.0.1:{port}").rstrip("/")
            for name, port in SERVICES.items()}


async def proxy(request: web.Request) -> web.StreamResponse:
    service, rest = request.match_info["service"], request.match_info["rest"]
    base = request.app["services"].get(service)
    if base is None:
        return problem(404, "Not found", f"No service {service!r}: one of {', '.join(SERVICES)}.")
    target = f"{base}/{rest}" + (f"?{request.query_string}" if request.query_string else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["X-Forwarded-Prefix"] = f"/api/{service}"
    try:
        async with request.app["client"].request(request.method, target, headers=headers,
                                                 data=request.content if request.can_read_body else None,
                                                 allow_redirects=False) as upstream:
            response = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP | {"content-encoding"}})
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientConnectionError:
        return problem(502, "Service unavailable", f"The {service} service does not answer; is it running?")


def console_config(env: dict[str, str] | None = None) -> dict[str, str]:
    """What the console reads at /console-config.json (nginx serves the same in the console image)."""
    env = os.environ if env is None else env
    issuer = env.get("OPS_OIDC_ISSUER", "").strip()
    if not issuer:
        return {}
    config = {"issuer": issuer, "client_id": env.get("OPS_OIDC_CLIENT_ID", "ops-console"),
              "redirect_path": env.get("OPS_OIDC_REDIRECT_PATH", "/signin/callback"),
              "scope": env.get("OPS_OIDC_SCOPE", "openid profile")}
    # The services' claim mapping, so that the console shows the same roles the services grant.
    for name in ("roles", "name", "city", "products", "vendor"):
        if env.get(f"OPS_OIDC_{name.upper()}_CLAIM"):
            config[f"{name}_claim"] = env[f"OPS_OIDC_{name.upper()}_CLAIM"]
    if env.get("OPS_OIDC_ROLE_MAP"):
        try:
            config["role_map"] = json.loads(env["OPS_OIDC_ROLE_MAP"])
        except ValueError:
            pass  # the services refuse to start with it; the console then shows no roles
    return config


async def config(request: web.Request) -> web.Response:
    return web.json_response(request.app["config"], headers={"Cache-Control": "no-cache"})


async def dev_token(request: web.Request) -> web.Response:
    secret = request.app["secret"]
    if request.app["config"].get("issuer"):
        return problem(404, "Not found", "Development sign-in is off: the services accept only OIDC tokens.")
    if secret != DEV_AUTH_SECRET:
        return problem(404, "Not found", "Development sign-in is off: the services use a production secret.")
    try:
        body = await request.json()
        sub, roles = str(body["sub"]).strip(), [str(r) for r in body["roles"]]
    except (ValueError, KeyError, TypeError):
        return problem(422, "Invalid request", "Send {\"sub\": …, \"roles\": [...]} (and city, products, vendor).")
    if not sub or not roles:
        return problem(422, "Invalid request", "sub and roles must not be empty.")
    claims = {k: body.get(k) for k in ("name", "city", "products", "vendor", "channel") if body.get(k)}
    token = mint_token(secret, sub=sub, roles=roles, ttl_seconds=DEV_TOKEN_HOURS * 3600, **claims)
    return web.json_response({"token": token, "expires_in": DEV_TOKEN_HOURS * 3600})


async def console(request: web.Request) -> web.StreamResponse:
    dist: Path = request.app["dist"]
    index = dist / "index.html"
    if not index.exists():
        return web.Response(status=503, content_type="text/plain", charset="utf-8",
                            text="The console is not built: run `make console` (npm ci and vite build).")
    path = (dist / request.match_info.get("path", "")).resolve()
    if path.is_file() and path.is_relative_to(dist.resolve()):
        response = web.FileResponse(path)
        if "/assets/" in str(path):  # Vite names them by content hash
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response
    return web.FileResponse(index, headers={"Cache-Control": "no-cache"})  # the single-page app's own routes


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(*, dist: Path | None = None, services: dict[str, str] | None = None,
               secret: str | None = None, env: dict[str, str] | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)  # attachments pass through
    app["dist"] = dist or Path(os.environ.get("OPS_CONSOLE_DIST", REPO / "console" / "dist"))
    app["services"] = services or service_urls()
    app["secret"] = secret if secret is not None else os.environ.get("OPS_AUTH_SECRET", DEV_AUTH_SECRET)
    app["config"] = console_config(env)

    async def client_context(app: web.Application):
        app["client"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False)
        yield
        await app["client"].close()

    app.cleanup_ctx.append(client_context)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/console-config.json", config)
    app.router.add_post("/dev/token", dev_token)
    app.router.add_route("*", "/api/{service}/{rest:.*}", proxy)
    app.router.add_get("/{path:.*}", console)
    return app


def main() -> None:
    port = int(os.environ.get("OPS_CONSOLE_PORT", "8000"))
    web.run_app(create_app(), host=os.environ.get("OPS_CONSOLE_HOST", "127.0.0.1"), port=port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
