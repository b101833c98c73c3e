// The dashboard renders analytics' answers: KPIs, freshness, the role's sections, and errors in words.
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("echarts-for-react", () => ({ default: () => <div data-testid="echarts" /> }));

import { setToken } from "../../lib/api";
import { AuthProvider } from "../../lib/auth";
import { LangProvider } from "../../lib/i18n";
import Dashboard from "./Dashboard";

const figures = {
  count: 3, opened: 12, resolved: 5, closed: 4, backlog: 7, merged: 2,
  timeliness_rate: { response: 1, resolution: 0.8 },
  satisfaction_rate: 0.75,
  resolution_hours: { avg: 3.5, p90: 6 },
  reopen_rate: null,
  escalation_rate: { tier2: 0.1, tier3: null },
};
const fresh = { as_of: "2026-12-01T02:00:00Z", lag: { queued_events: 0, pending_tickets: 0, seconds_since_caught_up: 1 } };

function tokenFor(claims: object) {
  const b64 = (o: object) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o))));
  return `${b64({ alg: "HS256" })}.${b64({ exp: Date.now() / 1000 + 3600, ...claims })}.sig`;
}

function answer(path: string): { status: number; body: unknown } {
  if (path.includes("/metrics/summary")) return { status: 200, body: { ...figures, ...fresh, filters: {}, period: {} } };
  if (path.includes("/metrics/breakdown")) {
    const items = path.includes("dimension=kind")
      ? [{ ...figures, merged: 3, key: "complaint", label: "投诉" }]
      : [{ ...figures, key: "济南", label: "济南" }];
    return { status: 200, body: { ...fresh, dimension: "city", items } };
  }
  if (path.includes("/metrics/timeseries")) return { status: 200, body: { ...fresh, points: [] } };
  if (path.includes("/anomalies")) return { status: 503, body: { title: "Service unavailable", detail: "分析服务暂不可用" } };
  return { status: 404, body: { title: "Not found" } };
}

function show(claims: object) {
  setToken(tokenFor(claims));
  return render(
    <MemoryRouter>
      <LangProvider>
        <AuthProvider>
          <Dashboard />
        </AuthProvider>
      </LangProvider>
    </MemoryRouter>,
  );
}

const computedStyle = window.getComputedStyle.bind(window);

beforeEach(() => {
  window.getComputedStyle = ((elt: Element) => computedStyle(elt)) as typeof window.getComputedStyle; // jsdom: no pseudo-elements
  vi.stubGlobal("fetch", vi.fn(async (input: string) => {
    const { status, body } = answer(String(input));
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  }));
  window.matchMedia ??= ((q: string) => ({ matches: false, media: q, addListener() {}, removeListener() {}, addEventListener() {}, removeEventListener() {}, onchange: null, dispatchEvent: () => false })) as never;
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setToken(null);
});

describe("Dashboard", () => {
  it("shows the KPIs and the freshness of the figures", async () => {
    show({ sub: "agent-01", roles: ["agent"] });
    await waitFor(() => expect(screen.getByTestId("kpi-opened").textContent).toContain("12"));
    expect(screen.getByTestId("kpi-timeliness").textContent).toContain("80.0%");
    expect(screen.getByTestId("kpi-satisfaction").textContent).toContain("75.0%");
    expect(screen.getByTestId("kpi-closed").textContent).toContain("4");
    // merged duplicates (合并): a KPI of their own, and a column of the breakdown table
    expect(screen.getByTestId("kpi-merged").textContent).toMatch(/^合并\s*2$/);
    await waitFor(() => expect(screen.getByTestId("breakdown-table").textContent).toContain("投诉"));
    const table = screen.getByTestId("breakdown-table");
    const headers = Array.from(table.querySelectorAll("th")).map((th) => th.textContent);
    const row = Array.from(table.querySelectorAll("tbody tr")).find((tr) => tr.textContent?.includes("投诉"))!;
    const cells = Array.from(row.querySelectorAll("td")).map((td) => td.textContent);
    expect(cells[headers.indexOf("合并")]).toBe("3");
    expect(screen.getByTestId("freshness-fresh")).toBeTruthy();
    expect(screen.getByTestId("chart-city")).toBeTruthy();
    expect(screen.queryByTestId("anomalies-table")).toBeNull(); // agents do not read anomalies
    expect(screen.getByTestId("report-download")).toBeTruthy();
  });

  it("shows an API error in words", async () => {
    show({ sub: "analyst-01", roles: ["analyst"] });
    await waitFor(() => expect(screen.getByTestId("anomalies-error").textContent).toContain("分析服务暂不可用"));
  });

  it("refuses a vendor", () => {
    show({ sub: "v", roles: ["vendor"] });
    expect(screen.getByText("您的角色无权查看运营看板")).toBeTruthy();
  });
});
