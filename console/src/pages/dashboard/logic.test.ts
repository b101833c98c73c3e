import { describe, expect, it } from "vitest";
import type { Claims } from "../../lib/auth";
import {
  anomalyActions,
  canReadAnomalies,
  canReadMetrics,
  canReadReports,
  cityBars,
  CITIES,
  cleanFilters,
  dispositionFilename,
  formatMetric,
  formatRate,
  freshness,
  lastDays,
  rateColor,
  recentMonths,
  reportProduct,
} from "./logic";

const user = (roles: string[], extra: Partial<Claims> = {}): Claims => ({ sub: "u", roles, ...extra });

describe("formatting", () => {
  it("shows a rate as a percentage and no data as a dash, never 0 %", () => {
    expect(formatRate(0.953)).toBe("95.3%");
    expect(formatRate(1)).toBe("100.0%");
    expect(formatRate(0)).toBe("0.0%");
    expect(formatRate(null)).toBe("—");
    expect(formatRate(undefined)).toBe("—");
  });
  it("formats each metric by its kind", () => {
    expect(formatMetric("satisfaction", 0.5)).toBe("50.0%");
    expect(formatMetric("resolution_hours_p90", 4)).toBe("4.0 h");
    expect(formatMetric("opened", 12345)).toBe("12,345");
    expect(formatMetric("opened", null)).toBe("—");
  });
  it("colours a rate against its target", () => {
    expect(rateColor(0.97)).toBe("#2e7d32");
    expect(rateColor(0.9)).toBe("#ef6c00");
    expect(rateColor(0.5)).toBe("#c62828");
    expect(rateColor(null)).toBeUndefined();
  });
});

describe("cityBars", () => {
  it("has one bar per city in the fixed order, 0 where there were no tickets", () => {
    const bars = cityBars([
      { key: "青岛", opened: 5, closed: 2 },
      { key: "济南", opened: 9, resolved: 3 },
      { key: null, opened: 1 },
    ]);
    expect(bars.cities).toEqual([...CITIES]);
    expect(bars.cities).toHaveLength(16);
    expect(bars.opened.slice(0, 3)).toEqual([9, 5, 0]);
    expect(bars.closed.slice(0, 2)).toEqual([0, 2]);
    expect(bars.resolved[0]).toBe(3);
  });
});

describe("freshness", () => {
  it("is empty without as_of", () => expect(freshness(null, { pending_tickets: 0 })).toBe("empty"));
  it("is fresh when caught up", () =>
    expect(freshness("2026-12-01T00:00:00Z", { queued_events: 0, pending_tickets: 0, seconds_since_caught_up: 1 })).toBe("fresh"));
  it("is behind with events still queued", () =>
    expect(freshness("2026-12-01T00:00:00Z", { queued_events: 3, pending_tickets: 0, seconds_since_caught_up: 2 })).toBe("behind"));
  it("is stale when the counters have not caught up for a minute", () =>
    expect(freshness("2026-12-01T00:00:00Z", { pending_tickets: 0, seconds_since_caught_up: 300 })).toBe("stale"));
});

describe("who may do what", () => {
  it("refuses vendors the metrics", () => {
    expect(canReadMetrics(user(["agent"]))).toBe(true);
    expect(canReadMetrics(user(["vendor"]))).toBe(false);
    expect(canReadMetrics(null)).toBe(false);
  });
  it("shows anomalies to analysts, admins, product and account managers only", () => {
    expect(canReadAnomalies(user(["analyst"]))).toBe(true);
    expect(canReadAnomalies(user(["account_manager"]))).toBe(true);
    expect(canReadAnomalies(user(["agent"]))).toBe(false);
  });
  it("lets ops engineers and vendors download no report", () => {
    expect(canReadReports(user(["complaint_handler"]))).toBe(true);
    expect(canReadReports(user(["ops_engineer"]))).toBe(false);
    expect(canReadReports(user(["vendor"]))).toBe(false);
  });
  it("gives analysts both actions on an open anomaly, only explain once acknowledged or explained", () => {
    const a = { dimension: "city" as const, key: "济南", state: "open" as const };
    expect(anomalyActions(user(["analyst"]), a)).toEqual(["acknowledge", "explain"]);
    expect(anomalyActions(user(["admin"]), { ...a, state: "acknowledged" })).toEqual(["explain"]);
    expect(anomalyActions(user(["admin"]), { ...a, state: "explained" })).toEqual(["explain"]);
  });
  it("lets a product manager review only their own products' anomalies, an account manager none", () => {
    const p = { dimension: "product_code" as const, key: "mobile_office", state: "open" as const };
    expect(anomalyActions(user(["product_manager"], { products: ["mobile_office"] }), p)).toEqual(["acknowledge", "explain"]);
    expect(anomalyActions(user(["product_manager"], { products: ["other"] }), p)).toEqual([]);
    expect(anomalyActions(user(["product_manager"], { products: ["济南"] }), { ...p, dimension: "city", key: "济南" })).toEqual([]);
    expect(anomalyActions(user(["account_manager"], { city: "济南" }), { ...p, dimension: "city", key: "济南" })).toEqual([]);
  });
  it("names a product manager's own product in the report request", () => {
    expect(reportProduct(user(["product_manager"], { products: ["a", "b"] }))).toBe("a");
    expect(reportProduct(user(["product_manager"], { products: ["a"] }), "b")).toBe("b");
    expect(reportProduct(user(["analyst"]))).toBeUndefined();
  });
});

describe("downloads and periods", () => {
  it("takes the Chinese file name of RFC 5987 first", () => {
    const h = `attachment; filename="monthly-report-2026-03-all.xlsx"; filename*=UTF-8''${encodeURIComponent("客服投诉月度分析-2026-03-全省.xlsx")}`;
    expect(dispositionFilename(h, "x.xlsx")).toBe("客服投诉月度分析-2026-03-全省.xlsx");
    expect(dispositionFilename(`attachment; filename="a.xlsx"`, "x.xlsx")).toBe("a.xlsx");
    expect(dispositionFilename(null, "x.xlsx")).toBe("x.xlsx");
  });
  it("lists the recent months newest first across a year", () => {
    expect(recentMonths(new Date(2026, 1, 15), 3)).toEqual(["2026-02", "2026-01", "2025-12"]);
  });
  it("defaults to the last 30 days including today", () => {
    expect(lastDays(new Date(2026, 11, 2), 30)).toEqual({ from: "2026-11-03", to: "2026-12-02" });
  });
  it("drops empty filters", () => {
    expect(cleanFilters({ city: "济南", kind: "", product_code: undefined })).toEqual({ city: "济南" });
  });
});
