// Pure logic of the tickets pages: vocabulary labels, the SLA countdown and its colour, and which actions the
// signed-in role may take on a ticket in its status (mirrors services/ticketing/domain/ticket.py ALLOWED_FROM and
// domain/scope.py ACTION_ROLES / may_act; the service decides, this only hides buttons that would be refused).
import type { Claims } from "../../lib/auth";

export const KINDS = ["consultation", "complaint", "suggestion", "fault"] as const;
export const KIND_LABELS: Record<string, string> = { consultation: "咨询", complaint: "投诉", suggestion: "建议", fault: "故障" };
export const STATUSES = ["new", "in_progress", "pending", "escalated", "resolved", "closed"] as const;
export const STATUS_LABELS: Record<string, string> = {
  new: "受理",
  in_progress: "处理中",
  pending: "待补充",
  escalated: "已转派",
  resolved: "已答复",
  closed: "已归档",
};
export const STATUS_COLORS: Record<string, string> = {
  new: "blue",
  in_progress: "processing",
  pending: "gold",
  escalated: "purple",
  resolved: "cyan",
  closed: "default",
};
export const CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽"];
export const CHANNEL_LABELS: Record<string, string> = {
  account_manager: "客户经理",
  product_owner: "产品负责人",
  call_center: "呼叫中心",
  customer: "客户直接来电",
};
export const INDUSTRY_LABELS: Record<string, string> = {
  government: "政府",
  education: "教育",
  healthcare: "医疗",
  finance: "金融",
  manufacturing: "制造",
  transport: "交通",
  retail: "零售",
  agriculture: "农业",
  energy: "能源",
  other: "其他",
};
export const PRIORITY_LABELS: Record<string, string> = { low: "低", normal: "普通", high: "高", urgent: "紧急" };
export const CAUSE_LABELS: Record<string, string> = {
  usage_misunderstanding: "理解偏差",
  billing_error: "计费问题",
  product_defect: "产品缺陷",
  feature_request: "功能需求",
  network_or_platform: "平台/网络",
  other: "其他",
};
export const TIER_LABELS: Record<number, string> = { 1: "一线", 2: "产品经理", 3: "厂家/其他部门" };
export const ACTION_LABELS: Record<string, string> = {
  open: "建档",
  assign: "分派",
  escalate: "升级",
  notes: "备注/进度通报",
  resolve: "答复",
  feedback: "反馈",
  pending: "待补充",
  requester_reply: "用户补充",
  answer: "反馈答复给一线",
  merge: "合并",
  attach: "上传附件",
  auto_close: "超时未反馈自动归档",
  merged_in: "合并入",
  sla_breached: "超时",
  sla_recalculated: "SLA重新计算",
  update_reminded: "进度通报提醒",
};

export const label = (map: Record<string, string>, value: string | null | undefined) =>
  value == null ? "—" : (map[value] ?? value);

// --- SLA countdown ---------------------------------------------------------------------------------------------

export type SlaColour = "green" | "orange" | "red" | "grey";

export interface Countdown {
  colour: SlaColour;
  text: string; // e.g. "剩余 3小时20分" / "超时 1天2小时" / "已完成"
  fraction: number | null; // share of the time left (0–1), null when done
}

/** "2天3小时", "3小时20分", "15分" (the largest two units, minutes at least). */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return hours ? `${days}天${hours}小时` : `${days}天`;
  if (hours > 0) return mins ? `${hours}小时${mins}分` : `${hours}小时`;
  return `${mins}分`;
}

/** The countdown to `deadline` of a clock that started at `start`: green with more than half the time left,
 * orange with less, red once past (or `breached`). `done` (responded / resolved) stops it: grey, or red when it
 * was met late (`doneAt` after the deadline). */
export function slaCountdown(
  start: string | Date,
  deadline: string | Date,
  now: Date,
  opts: { done?: boolean; doneAt?: string | Date | null; breached?: boolean } = {},
): Countdown {
  const s = new Date(start).getTime();
  const d = new Date(deadline).getTime();
  if (opts.done) {
    const at = opts.doneAt ? new Date(opts.doneAt).getTime() : null;
    if (at !== null && at > d) return { colour: "red", text: `超时完成（晚${formatDuration(at - d)}）`, fraction: null };
    return { colour: "grey", text: "按时完成", fraction: null };
  }
  const left = d - now.getTime();
  if (left <= 0) return { colour: "red", text: `已超时 ${formatDuration(-left)}`, fraction: 0 };
  const total = Math.max(d - s, 1);
  const fraction = Math.min(1, left / total);
  const colour: SlaColour = opts.breached ? "red" : fraction > 0.5 ? "green" : "orange";
  return { colour, text: `剩余 ${formatDuration(left)}`, fraction };
}

export interface TicketLike {
  id: string;
  status: string;
  kind?: string;
  tier: number;
  product_code: string;
  city: string;
  filed_by?: string;
  escalation?: { tier?: number; target?: string } | null;
  received_at?: string;
  opened_at?: string;
  first_response_at?: string | null;
  resolved_at?: string | null;
  closed_at?: string | null;
  sla?: { respond_by: string; resolve_by: string; breached?: boolean };
  version?: number;
}

/** The countdown a queue row shows: to respond_by until the first response, then to resolve_by. */
export function rowCountdown(t: TicketLike, now: Date): Countdown & { which: "respond" | "resolve" } {
  const start = t.received_at ?? t.opened_at ?? now.toISOString();
  if (!t.sla) return { colour: "grey", text: "—", fraction: null, which: "resolve" };
  if (t.status === "pending") {
    return { colour: "grey", text: "已暂停（待补充）", fraction: null, which: "resolve" };
  }
  if (!t.first_response_at && t.status !== "resolved" && t.status !== "closed") {
    return { ...slaCountdown(start, t.sla.respond_by, now, { breached: t.sla.breached }), which: "respond" };
  }
  const done = t.status === "resolved" || t.status === "closed";
  return {
    ...slaCountdown(start, t.sla.resolve_by, now, {
      done,
      doneAt: t.resolved_at ?? t.closed_at,
      breached: t.sla.breached,
    }),
    which: "resolve",
  };
}

// --- allowed actions ------------------------------------------------------------------------------------------

export type Action =
  | "assign"
  | "escalate"
  | "notes"
  | "resolve"
  | "feedback"
  | "attach"
  | "pending"
  | "requester_reply"
  | "answer"
  | "merge";

const FRONT_LINE = ["agent", "complaint_handler", "ops_engineer"];
const SEE_ALL = [...FRONT_LINE, "analyst", "admin"];

export const ALLOWED_FROM: Record<Action, string[]> = {
  assign: ["new", "in_progress", "escalated"],
  escalate: ["new", "in_progress", "escalated"],
  notes: ["new", "in_progress", "pending", "escalated", "resolved"],
  resolve: ["in_progress", "escalated"],
  feedback: ["resolved"],
  attach: ["new", "in_progress", "pending", "escalated", "resolved"],
  pending: ["in_progress", "escalated"],
  requester_reply: ["pending"],
  answer: ["escalated"],
  merge: ["new", "in_progress", "pending", "escalated", "resolved"],
};

const NOTES_ROLES = [...FRONT_LINE, "product_manager", "vendor", "account_manager", "admin"];
export const ACTION_ROLES: Record<Action, string[]> = {
  assign: [...FRONT_LINE, "product_manager", "admin"],
  escalate: [...FRONT_LINE, "product_manager", "admin"],
  notes: NOTES_ROLES,
  resolve: [...FRONT_LINE, "product_manager", "admin"],
  feedback: ["intake", "account_manager", ...FRONT_LINE, "admin"],
  pending: [...FRONT_LINE, "product_manager", "admin"],
  requester_reply: ["intake", "account_manager", ...FRONT_LINE, "admin"],
  answer: ["product_manager", "vendor", "admin"],
  merge: [...FRONT_LINE, "product_manager", "admin"],
  attach: [...NOTES_ROLES, "intake"],
};

function actsOn(role: string, user: Claims, t: TicketLike): boolean {
  if (SEE_ALL.includes(role)) return true;
  if (role === "product_manager") return (user.products ?? []).includes(t.product_code);
  if (role === "vendor")
    return !!user.vendor && t.tier === 3 && !!t.escalation && t.escalation.target === user.vendor;
  if (role === "account_manager") return !!user.city && t.city === user.city;
  if (role === "intake") return t.filed_by === user.sub;
  return false;
}

/** Whether `user` may take `action` on ticket `t` now: role, scope and status (and the tier rules: escalation
 * goes up, only tier 2/3 hands back). */
export function mayAct(user: Claims | null, action: Action, t: TicketLike): boolean {
  if (!user) return false;
  if (!ALLOWED_FROM[action].includes(t.status)) return false;
  if (action === "escalate" && t.tier >= 3) return false;
  if (action === "answer" && t.tier < 2) return false;
  return user.roles.some((role) => ACTION_ROLES[action].includes(role) && actsOn(role, user, t));
}

export function allowedActions(user: Claims | null, t: TicketLike): Action[] {
  return (Object.keys(ALLOWED_FROM) as Action[]).filter((a) => mayAct(user, a, t));
}

/** May this user file tickets (POST /v1/tickets)? */
export function mayOpen(user: Claims | null): boolean {
  return !!user && user.roles.some((r) => ["intake", "account_manager", ...FRONT_LINE, "admin"].includes(r));
}

/** A fresh Idempotency-Key for one filing attempt. */
export function idempotencyKey(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && "randomUUID" in c) return c.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** Per-ticket results of a bulk action in words: "3 张成功；TS-1：已超时…" */
export function summariseBulk(results: { id: string; error?: string }[]): { ok: number; failed: string[] } {
  const failed = results.filter((r) => r.error).map((r) => `${r.id}：${r.error}`);
  return { ok: results.length - failed.length, failed };
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
