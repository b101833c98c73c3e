// Production sign-in: OpenID Connect, authorization code flow with PKCE (oidc-client-ts), configured by
// /console-config.json, which the gateway (scripts/gateway.py) or the console image's nginx serves from the
// OPS_OIDC_* environment. An empty config ({}) or none means the development sign-in page (POST /dev/token).
//
// The console sends the IdP's access token to the services (whose OPS_OIDC_AUDIENCE must be its `aud`); to show
// the user and choose pages it maps that token's claims to ours by the same rules as the services
// (services/kit/auth.py): roles from `roles_claim` (a dotted path allowed) through `role_map`, and so on.
import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import { setToken } from "./api";
import { registerClaimsMapper, type Claims } from "./auth";

export interface ConsoleConfig {
  issuer?: string;
  client_id?: string;
  redirect_path?: string;
  scope?: string;
  roles_claim?: string;
  role_map?: Record<string, string | string[]>;
  name_claim?: string;
  city_claim?: string;
  products_claim?: string;
  vendor_claim?: string;
}

export const OUR_ROLES = [
  "agent", "complaint_handler", "ops_engineer", "product_manager", "vendor", "account_manager", "analyst",
  "admin", "intake",
];

const CONFIG_KEY = "ops.console-config";

/** A claim by its name, or by a dotted path into nested objects (`realm_access.roles`). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object" || !(part in (value as object))) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function strings(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== "").map(String);
  return [String(value)];
}

function text(value: unknown): string | undefined {
  if (Array.isArray(value)) value = value[0];
  return value === undefined || value === null || value === "" ? undefined : String(value);
}

/** Our roles for the IdP's groups/roles: through the map, or as they are when already ours; others dropped. */
export function mapRoles(values: string[], roleMap: Record<string, string | string[]> = {}): string[] {
  const roles: string[] = [];
  for (const value of values) {
    const mapped = value in roleMap ? roleMap[value] : OUR_ROLES.includes(value) ? value : undefined;
    for (const role of Array.isArray(mapped) ? mapped : strings(mapped)) {
      if (OUR_ROLES.includes(role) && !roles.includes(role)) roles.push(role);
    }
  }
  return roles;
}

/** Our Claims from an OIDC access token's claims, by the config's mapping (defaults: our own claim names). */
export function mapClaims(raw: Record<string, unknown>, config: ConsoleConfig): Claims {
  return {
    sub: String(raw.sub ?? ""),
    name: text(claimAt(raw, config.name_claim ?? "name")) ?? text(raw.preferred_username),
    roles: mapRoles(strings(claimAt(raw, config.roles_claim ?? "roles")), config.role_map),
    city: text(claimAt(raw, config.city_claim ?? "city")),
    products: strings(claimAt(raw, config.products_claim ?? "products")),
    vendor: text(claimAt(raw, config.vendor_claim ?? "vendor")),
    exp: typeof raw.exp === "number" ? raw.exp : undefined,
  };
}

export function isOidc(config: ConsoleConfig | null): config is ConsoleConfig & { issuer: string; client_id: string } {
  return !!config?.issuer && !!config.client_id;
}

function applyConfig(config: ConsoleConfig | null) {
  if (isOidc(config)) registerClaimsMapper((raw) => mapClaims(raw, config));
  else registerClaimsMapper(null);
}

/** The last config read, so that a reload maps the stored token's claims before the config is fetched again. */
export function cachedConfig(): ConsoleConfig | null {
  try {
    return JSON.parse(localStorage.getItem(CONFIG_KEY) ?? "null") as ConsoleConfig | null;
  } catch {
    return null;
  }
}

applyConfig(cachedConfig());

/** GET /console-config.json: null when absent (a plain Vite dev server) or unreadable → development sign-in. */
export async function loadConfig(): Promise<ConsoleConfig | null> {
  let config: ConsoleConfig | null = null;
  try {
    const response = await fetch("/console-config.json", { headers: { Accept: "application/json" } });
    if (response.ok && (response.headers.get("content-type") ?? "").includes("json")) {
      config = (await response.json()) as ConsoleConfig;
    }
  } catch {
    config = null;
  }
  if (config && Object.keys(config).length) localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
  else localStorage.removeItem(CONFIG_KEY);
  applyConfig(config);
  return config;
}

let manager: UserManager | null = null;
let managerFor = "";

export function userManager(config: ConsoleConfig & { issuer: string; client_id: string }): UserManager {
  const key = `${config.issuer}|${config.client_id}`;
  if (!manager || managerFor !== key) {
    const origin = window.location.origin;
    manager = new UserManager({
      authority: config.issuer,
      client_id: config.client_id,
      redirect_uri: origin + (config.redirect_path ?? "/signin/callback"),
      post_logout_redirect_uri: origin + "/",
      response_type: "code", // PKCE (S256) is oidc-client-ts's default for the code flow
      scope: config.scope ?? "openid profile",
      automaticSilentRenew: true, // with the refresh token, before the access token expires
      userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    });
    // Each renewed access token replaces the one the API client sends.
    manager.events.addUserLoaded((user) => {
      if (user.access_token) setToken(user.access_token);
    });
    managerFor = key;
  }
  return manager;
}

/** True when this page load is the IdP's redirect back to us (code and state, or an error, in the query). */
export function isCallback(config: ConsoleConfig, location: Location = window.location): boolean {
  const params = new URLSearchParams(location.search);
  return location.pathname === (config.redirect_path ?? "/signin/callback") &&
    (params.has("code") || params.has("error")) && params.has("state");
}

/** Sends the browser to the IdP's sign-in page; `returnTo` is where to land after the callback. */
export async function startSignIn(config: ConsoleConfig & { issuer: string; client_id: string }, returnTo: string) {
  await userManager(config).signinRedirect({ state: { returnTo } });
}

/** Completes the code flow on the callback URL: the access token and where to go next. */
export async function finishSignIn(config: ConsoleConfig & { issuer: string; client_id: string }):
  Promise<{ token: string; returnTo: string }> {
  const user = (await userManager(config).signinCallback(window.location.href)) as User | undefined;
  if (!user?.access_token) throw new Error("统一身份认证未返回访问令牌");
  const state = user.state as { returnTo?: string } | undefined;
  const returnTo = state?.returnTo && state.returnTo.startsWith("/") && !state.returnTo.startsWith("//")
    ? state.returnTo : "/tickets";
  return { token: user.access_token, returnTo };
}

/** Signs out at the IdP too (its end_session_endpoint, with the ID token as hint; the browser comes back to `/`),
 * when one is configured. signoutRedirect forgets the stored user itself; if the IdP cannot be reached, we do. */
export async function signOutAtIdp(config: ConsoleConfig | null) {
  if (!isOidc(config)) return;
  const manager = userManager(config);
  await manager.signoutRedirect().catch(() => manager.removeUser());
}

// After a reload with an OIDC session: start the manager, so that the token goes on being renewed.
{
  const config = cachedConfig();
  if (isOidc(config) && typeof window !== "undefined" && !import.meta.env?.VITEST) userManager(config);
}
