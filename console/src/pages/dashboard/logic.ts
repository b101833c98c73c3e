// The dashboard's pure logic: formatting the figures, the 16 cities' bars, freshness (as_of / lag), who may do
// what with an anomaly, the monthly report's file name. No React here, so that Vitest checks it directly.
import type { Claims } from "../../lib/auth";

// Shandong's 16 cities, in the order of the SPEC (and of the monthly report's city table).
export const CITIES = [
  "济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁",
  "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽",
] as const;

export const KINDS = ["consultation", "complaint", "suggestion", "fault"] as const;
export const DIMENSIONS = ["city", "industry", "product_code", "channel", "cause", "kind"] as const;
export const INTERVALS = ["day", "week", "month"] as const;
export const METRICS = [
  "opened", "merged", "resolved", "closed", "backlog", "response_timeliness", "resolution_timeliness", "satisfaction",
  "reopen_rate", "resolution_hours_avg", "resolution_hours_p90", "tier2_rate", "tier3_rate",
] as const;
export type Metric = (typeof METRICS)[number];

/** Metrics whose values are fractions (0.95) shown as percentages. */
export const RATE_METRICS: ReadonlySet<string> = new Set([
  "response_timeliness", "resolution_timeliness", "satisfaction", "reopen_rate", "tier2_rate", "tier3_rate",
]);
export const HOUR_METRICS: ReadonlySet<string> = new Set(["resolution_hours_avg", "resolution_hours_p90"]);

/** A rate (a fraction, or null when its denominator was 0: no data, which is not 0 %) as a percentage. */
export function formatRate(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

export function formatHours(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${value.toFixed(1)} h`;
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value.toLocaleString("zh-CN");
}

export function formatMetric(metric: string, value: number | null | undefined): string {
  if (RATE_METRICS.has(metric)) return formatRate(value);
  if (HOUR_METRICS.has(metric)) return formatHours(value);
  return formatCount(value);
}

/** The colour of a rate against its target: green at or above it, orange within 10 points below, red further. */
export function rateColor(value: number | null | undefined, target = 0.95): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value >= target) return "#2e7d32";
  if (value >= target - 0.1) return "#ef6c00";
  return "#c62828";
}

export interface CityItem {
  key: string | null;
  label?: string;
  opened?: number;
  resolved?: number;
  closed?: number;
}

/** One bar per city, in the fixed order of the 16, 0 where the breakdown has no row (no tickets). */
export function cityBars(items: CityItem[]): { cities: string[]; opened: number[]; resolved: number[]; closed: number[] } {
  const byCity = new Map(items.filter((i) => i.key).map((i) => [i.key as string, i]));
  const pick = (field: "opened" | "resolved" | "closed") => CITIES.map((c) => byCity.get(c)?.[field] ?? 0);
  return { cities: [...CITIES], opened: pick("opened"), resolved: pick("resolved"), closed: pick("closed") };
}

export interface Lag {
  queued_events?: number | null;
  pending_tickets?: number;
  seconds_since_caught_up?: number | null;
  counted_at?: string | null;
}

export type FreshLevel = "fresh" | "behind" | "stale" | "empty";

/** How current the figures are: `empty` without any event yet, `stale` when the counters have not caught up for
 *  a minute, `behind` with events or tickets still to count, else `fresh`. */
export function freshness(asOf: string | null | undefined, lag: Lag | null | undefined): FreshLevel {
  if (!asOf) return "empty";
  const since = lag?.seconds_since_caught_up;
  if (since !== null && since !== undefined && since > 60) return "stale";
  if ((lag?.queued_events ?? 0) > 0 || (lag?.pending_tickets ?? 0) > 0) return "behind";
  return "fresh";
}

export const FRESH_COLOR: Record<FreshLevel, string> = {
  fresh: "green",
  behind: "orange",
  stale: "red",
  empty: "default",
};

/** Who may read the metrics (analytics' READERS: vendors and intake channels are refused). */
export function canReadMetrics(user: Claims | null): boolean {
  if (!user) return false;
  const readers = ["admin", "analyst", "agent", "complaint_handler", "ops_engineer", "product_manager", "account_manager"];
  return user.roles.some((r) => readers.includes(r));
}

/** Who may read anomalies: analysts, admins, product managers (their products), account managers (their city). */
export function canReadAnomalies(user: Claims | null): boolean {
  return !!user && user.roles.some((r) => ["admin", "analyst", "product_manager", "account_manager"].includes(r));
}

/** Who may download monthly reports (ops engineers, vendors and intake may not). */
export function canReadReports(user: Claims | null): boolean {
  if (!user) return false;
  const readers = ["admin", "analyst", "agent", "complaint_handler", "product_manager", "account_manager"];
  return user.roles.some((r) => readers.includes(r));
}

export interface AnomalyLike {
  dimension: "product_code" | "city";
  key: string;
  state: "open" | "acknowledged" | "explained";
}

export type AnomalyAction = "acknowledge" | "explain";

/** The review actions `user` may take on `anomaly` (docs/analytics-anomalies.md): analysts and admins on every
 *  one, a product manager on their products' ones; acknowledging only while not yet explained (then 409);
 *  explaining again replaces the text. Account managers review none. */
export function anomalyActions(user: Claims | null, anomaly: AnomalyLike): AnomalyAction[] {
  if (!user) return [];
  const everyone = user.roles.includes("admin") || user.roles.includes("analyst");
  const own =
    user.roles.includes("product_manager") &&
    anomaly.dimension === "product_code" &&
    (user.products ?? []).includes(anomaly.key);
  if (!everyone && !own) return [];
  return anomaly.state === "open" ? ["acknowledge", "explain"] : ["explain"];
}

/** The product a product manager's monthly report must name (required for them), else the filter's. */
export function reportProduct(user: Claims | null, filterProduct?: string): string | undefined {
  if (filterProduct) return filterProduct;
  const onlyPm = !!user && user.roles.includes("product_manager") && !user.roles.some((r) => ["admin", "analyst", "agent", "complaint_handler"].includes(r));
  return onlyPm ? user!.products?.[0] : undefined;
}

/** The file name of a download from its Content-Disposition: the RFC 5987 `filename*` (Chinese) when given,
 *  else `filename`, else `fallback`. */
export function dispositionFilename(header: string | null | undefined, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[2].trim().replace(/^"|"$/g, ""));
    } catch {
      /* fall through to the ASCII name */
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
  if (plain) return (plain[2] ?? plain[1]).trim();
  return fallback;
}

/** The last `count` months as YYYY-MM, newest first, from `today` (a month not begun yet is a 422). */
export function recentMonths(today: Date, count = 12): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const d = new Date(today.getFullYear(), today.getMonth() - i, 1);
    out.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

/** YYYY-MM-DD of a local date. */
export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** The default period: the last `days` days including today. */
export function lastDays(today: Date, days = 30): { from: string; to: string } {
  const start = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (days - 1));
  return { from: isoDay(start), to: isoDay(today) };
}

/** Query filters without empty values. */
export function cleanFilters(f: Record<string, string | undefined | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) if (v) out[k] = v;
  return out;
}
