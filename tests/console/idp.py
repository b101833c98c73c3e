"""An OpenID Connect provider the browser tests run themselves (no Keycloak to install here): discovery, an
authorization page with one 登录 button, the code exchange with PKCE checked (S256 only), the key set, and the
sign-out endpoint. It serves from a thread (the standard library's ThreadingHTTPServer), since Playwright's sync API
owns the main thread's event loop.

Tokens: the access token is what the services verify (RS256 against the JWKS, `aud` the services' audience, the
roles in Keycloak's `realm_access.roles`); the ID token is the console's (`aud` its client id).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

REALM = "/realms/ops"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: dict[str, Any]


@dataclass
class IdentityProvider:
    audience: str
    client_id: str
    user: dict[str, Any] = field(default_factory=dict)  # who signs in at the next 登录 (claims of the access token)
    issuer: str = ""
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # each code exchange: client, PKCE verdict
    sign_outs: int = 0
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                    key_size=2048))
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    grants: dict[str, Grant] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ tokens

    def sign(self, claims: dict[str, Any], audience: str, ttl: int = 3600) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": audience, "iat": now, "exp": now + ttl, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})

    def access_token(self, **claims) -> str:
        """A token the services accept, for a test's own API calls (e.g. an intake channel filing a ticket)."""
        return self.sign(claims, self.audience)

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def discovery(self) -> dict[str, Any]:
        base = self.issuer + "/protocol/openid-connect"
        return {"issuer": self.issuer, "authorization_endpoint": f"{base}/auth", "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/certs", "end_session_endpoint": f"{base}/logout",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code"]}

    # ------------------------------------------------------------------ life

    def start(self) -> IdentityProvider:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):  # quiet: pytest shows failures, not access logs
                pass

            def send(self, status: int, body: bytes | str, content_type: str = "application/json",
                     headers: dict[str, str] | None = None) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")  # the console fetches from another origin
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def json(self, status: int, body: dict[str, Any]) -> None:
                self.send(status, json.dumps(body))

            def do_OPTIONS(self):  # noqa: N802 — CORS preflight
                self.send(204, b"", headers={"Access-Control-Allow-Methods": "GET, POST",
                                             "Access-Control-Allow-Headers": "Content-Type, Authorization"})

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                path = url.path.removeprefix(REALM)
                if path == "/.well-known/openid-configuration":
                    self.json(200, idp.discovery())
                elif path == "/protocol/openid-connect/certs":
                    self.json(200, idp.jwks())
                elif path == "/protocol/openid-connect/auth":
                    self.authorize_page(query)
                elif path == "/protocol/openid-connect/logout":
                    idp.sign_outs += 1
                    back = query.get("post_logout_redirect_uri")
                    if back:
                        self.send(302, b"", headers={"Location": back + (
                            "?" + urlencode({"state": query["state"]}) if "state" in query else "")})
                    else:
                        self.send(200, "<p>已退出</p>", "text/html; charset=utf-8")
                else:
                    self.json(404, {"error": "not_found"})

            def authorize_page(self, query: dict[str, str]) -> None:
                problems = [f"{k} must be {v}" for k, v in (("response_type", "code"), ("client_id", idp.client_id),
                                                           ("code_challenge_method", "S256"))
                            if query.get(k) != v]
                if not query.get("code_challenge") or not query.get("redirect_uri") or not query.get("state"):
                    problems.append("code_challenge, redirect_uri and state are required")
                if problems:
                    self.send(400, "<p>" + html.escape("; ".join(problems)) + "</p>", "text/html; charset=utf-8")
                    return
                fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                                 for k, v in query.items())
                name = html.escape(str(idp.user.get("preferred_username", idp.user.get("sub", ""))))
                self.send(200, f"""<!doctype html><meta charset="utf-8"><title>测试身份提供方</title>
<form method="post" action="{REALM}/protocol/openid-connect/auth">{fields}
<p>以 {name} 的身份登录</p><button type="submit">登录</button></form>""", "text/html; charset=utf-8")

            def do_POST(self):  # noqa: N802
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                path = url.path.removeprefix(REALM)
                if path == "/protocol/openid-connect/auth":
                    code = secrets.token_urlsafe(24)
                    idp.grants[code] = Grant(form["client_id"], form["redirect_uri"], form["code_challenge"],
                                             form.get("nonce"), dict(idp.user))
                    back = form["redirect_uri"] + "?" + urlencode({"code": code, "state": form["state"]})
                    self.send(302, b"", headers={"Location": back})
                elif path == "/protocol/openid-connect/token":
                    self.exchange(form)
                else:
                    self.json(404, {"error": "not_found"})

            def exchange(self, form: dict[str, str]) -> None:
                grant = idp.grants.pop(form.get("code", ""), None)  # a code is good once
                verifier = form.get("code_verifier", "")
                verdict = ("unknown code" if grant is None else
                           "wrong client" if form.get("client_id") != grant.client_id else
                           "wrong redirect_uri" if form.get("redirect_uri") != grant.redirect_uri else
                           "no code_verifier" if not verifier else
                           "PKCE mismatch" if s256(verifier) != grant.challenge else "ok")
                idp.exchanges.append({"grant_type": form.get("grant_type"), "verdict": verdict})
                if form.get("grant_type") != "authorization_code" or verdict != "ok":
                    self.json(400, {"error": "invalid_grant", "error_description": verdict})
                    return
                id_claims = {"sub": grant.user["sub"], "name": grant.user.get("preferred_username")}
                if grant.nonce:
                    id_claims["nonce"] = grant.nonce
                self.json(200, {"access_token": idp.access_token(**grant.user), "token_type": "Bearer",
                                "expires_in": 3600, "scope": "openid profile",
                                "id_token": idp.sign(id_claims, grant.client_id)})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}{REALM}"
        threading.Thread(target=self.server.serve_forever, name="test-idp", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
