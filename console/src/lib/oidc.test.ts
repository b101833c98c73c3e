import { describe, expect, it } from "vitest";
import { claimAt, isCallback, isOidc, mapClaims, mapRoles } from "./oidc";

describe("OIDC claim mapping (the same rules as services/kit/auth.py)", () => {
  it("reads a claim by name or by a dotted path", () => {
    const claims = { realm_access: { roles: ["a"] }, "https://ops.example/city": "济南" };
    expect(claimAt(claims, "realm_access.roles")).toEqual(["a"]);
    expect(claimAt(claims, "https://ops.example/city")).toBe("济南");
    expect(claimAt(claims, "realm_access.nope")).toBeUndefined();
  });

  it("maps groups to our roles, keeps our own names and drops the rest", () => {
    const map = { "/ops/agents": "agent", "ops-pm": ["product_manager", "analyst"], "ops-x": "not-a-role" };
    expect(mapRoles(["/ops/agents", "ops-pm", "ops-x", "vendor", "offline_access", "agent"], map)).toEqual([
      "agent", "product_manager", "analyst", "vendor"]);
  });

  it("builds our claims from a Keycloak-like access token", () => {
    const claims = mapClaims(
      { sub: "u1", preferred_username: "zhangsan", realm_access: { roles: ["ops-am", "offline_access"] },
        attrs: { city: ["济南"], products: "mobile_office,cloud_meeting" }, exp: 2000000000 },
      { issuer: "https://sso", client_id: "ops-console", roles_claim: "realm_access.roles",
        role_map: { "ops-am": "account_manager" }, city_claim: "attrs.city", products_claim: "attrs.products" },
    );
    expect(claims).toEqual({ sub: "u1", name: "zhangsan", roles: ["account_manager"], city: "济南",
      products: ["mobile_office", "cloud_meeting"], vendor: undefined, exp: 2000000000 });
  });

  it("is OIDC only with an issuer and a client id", () => {
    expect(isOidc(null)).toBe(false);
    expect(isOidc({})).toBe(false);
    expect(isOidc({ issuer: "https://sso" })).toBe(false);
    expect(isOidc({ issuer: "https://sso", client_id: "ops-console" })).toBe(true);
  });

  it("recognises the identity provider's redirect back", () => {
    const at = (href: string) => new URL(href) as unknown as Location;
    const config = { issuer: "https://sso", client_id: "c", redirect_path: "/signin/callback" };
    expect(isCallback(config, at("http://x/signin/callback?code=1&state=s"))).toBe(true);
    expect(isCallback(config, at("http://x/signin/callback?error=access_denied&state=s"))).toBe(true);
    expect(isCallback(config, at("http://x/signin/callback"))).toBe(false);
    expect(isCallback(config, at("http://x/tickets?code=1&state=s"))).toBe(false);
  });
});
