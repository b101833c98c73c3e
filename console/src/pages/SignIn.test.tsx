// The sign-in page chooses by /console-config.json: an issuer → only the identity provider's button; none (or
// no such file, as on a plain Vite dev server) → the development sign-in form.
import { cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../lib/auth";
import SignIn from "./SignIn";

beforeAll(() => {
  window.matchMedia ??= ((query: string) => ({
    matches: false, media: query, onchange: null, addListener: () => {}, removeListener: () => {},
    addEventListener: () => {}, removeEventListener: () => {}, dispatchEvent: () => false,
  })) as unknown as typeof window.matchMedia;
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

function serve(config: unknown, status = 200) {
  vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(config), {
    status, headers: { "Content-Type": "application/json" } })));
}

function page() {
  return render(<MemoryRouter><AuthProvider><SignIn /></AuthProvider></MemoryRouter>);
}

describe("SignIn", () => {
  it("offers the identity provider when the config names an issuer", async () => {
    serve({ issuer: "https://sso.example/realms/ops", client_id: "ops-console" });
    page();
    expect(await screen.findByTestId("oidc-sign-in")).toBeTruthy();
    expect(screen.queryByTestId("dev-sign-in-submit")).toBeNull();
    expect(JSON.parse(localStorage.getItem("ops.console-config")!).issuer).toBe("https://sso.example/realms/ops");
  });

  it("shows the development form with an empty config", async () => {
    serve({});
    page();
    expect(await screen.findByTestId("dev-sign-in-submit")).toBeTruthy();
    expect(screen.queryByTestId("oidc-sign-in")).toBeNull();
  });

  it("shows the development form when there is no config at all", async () => {
    serve({ detail: "not found" }, 404);
    page();
    expect(await screen.findByTestId("dev-sign-in-card")).toBeTruthy();
    expect(localStorage.getItem("ops.console-config")).toBeNull();
  });
});
