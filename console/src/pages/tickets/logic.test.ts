import { describe, expect, it } from "vitest";
import type { Claims } from "../../lib/auth";
import { allowedActions, formatDuration, mayAct, rowCountdown, slaCountdown, summariseBulk, type TicketLike } from "./logic";

const start = "2026-12-01T00:00:00Z";
const deadline = "2026-12-01T10:00:00Z";

describe("slaCountdown", () => {
  it("is green with more than half the time left", () => {
    const c = slaCountdown(start, deadline, new Date("2026-12-01T02:00:00Z"));
    expect(c.colour).toBe("green");
    expect(c.text).toBe("剩余 8小时");
  });
  it("is orange with less than half left", () => {
    const c = slaCountdown(start, deadline, new Date("2026-12-01T06:30:00Z"));
    expect(c.colour).toBe("orange");
    expect(c.text).toBe("剩余 3小时30分");
  });
  it("is red once past the deadline", () => {
    const c = slaCountdown(start, deadline, new Date("2026-12-02T12:00:00Z"));
    expect(c.colour).toBe("red");
    expect(c.text).toBe("已超时 1天2小时");
  });
  it("is red when the service says breached even with time left on this clock", () => {
    expect(slaCountdown(start, deadline, new Date("2026-12-01T01:00:00Z"), { breached: true }).colour).toBe("red");
  });
  it("stops when done: grey in time, red when late", () => {
    expect(slaCountdown(start, deadline, new Date("2026-12-05T00:00:00Z"), { done: true, doneAt: "2026-12-01T09:00:00Z" }).colour).toBe("grey");
    expect(slaCountdown(start, deadline, new Date("2026-12-05T00:00:00Z"), { done: true, doneAt: "2026-12-01T11:00:00Z" }).colour).toBe("red");
  });
});

describe("formatDuration", () => {
  it("shows the two largest units", () => {
    expect(formatDuration(15 * 60000)).toBe("15分");
    expect(formatDuration(2 * 86400000)).toBe("2天");
    expect(formatDuration(90 * 60000)).toBe("1小时30分");
  });
});

const ticket = (over: Partial<TicketLike> = {}): TicketLike => ({
  id: "TS-1",
  status: "in_progress",
  tier: 1,
  product_code: "mobile_office",
  city: "济南",
  filed_by: "crm",
  received_at: start,
  sla: { respond_by: "2026-12-01T04:00:00Z", resolve_by: deadline, breached: false },
  ...over,
});
const user = (roles: string[], more: Partial<Claims> = {}): Claims => ({ sub: "u1", roles, ...more });

describe("rowCountdown", () => {
  it("counts to respond_by before the first response, then to resolve_by", () => {
    const now = new Date("2026-12-01T01:00:00Z");
    expect(rowCountdown(ticket(), now).which).toBe("respond");
    expect(rowCountdown(ticket({ first_response_at: "2026-12-01T00:30:00Z" }), now).which).toBe("resolve");
  });
  it("is paused while pending", () => {
    expect(rowCountdown(ticket({ status: "pending" }), new Date()).colour).toBe("grey");
  });
});

describe("allowed actions", () => {
  it("front line on an in-progress ticket: assign, escalate, notes, resolve, pending, merge, attach", () => {
    expect(allowedActions(user(["agent"]), ticket()).sort()).toEqual(
      ["assign", "attach", "escalate", "merge", "notes", "pending", "resolve"].sort(),
    );
  });
  it("feedback only on a resolved ticket, by the front line or the channel", () => {
    const resolved = ticket({ status: "resolved" });
    expect(mayAct(user(["complaint_handler"]), "feedback", resolved)).toBe(true);
    expect(mayAct(user(["intake"], { sub: "crm" }), "feedback", resolved)).toBe(true);
    expect(mayAct(user(["intake"], { sub: "other" }), "feedback", resolved)).toBe(false);
    expect(mayAct(user(["product_manager"], { products: ["mobile_office"] }), "feedback", resolved)).toBe(false);
    expect(mayAct(user(["agent"]), "feedback", ticket())).toBe(false);
  });
  it("hand-back by tier 2/3 of an escalated ticket; the vendor only when escalated to it now", () => {
    const esc = ticket({ status: "escalated", tier: 3, escalation: { tier: 3, target: "v1" } });
    expect(mayAct(user(["vendor"], { vendor: "v1" }), "answer", esc)).toBe(true);
    expect(mayAct(user(["vendor"], { vendor: "v2" }), "answer", esc)).toBe(false);
    expect(mayAct(user(["vendor"], { vendor: "v1" }), "resolve", esc)).toBe(false);
    expect(mayAct(user(["product_manager"], { products: ["mobile_office"] }), "answer", { ...esc, tier: 2 })).toBe(true);
    expect(mayAct(user(["product_manager"], { products: ["other"] }), "answer", { ...esc, tier: 2 })).toBe(false);
    expect(mayAct(user(["agent"]), "answer", esc)).toBe(false);
  });
  it("escalation goes up: none from tier 3", () => {
    expect(mayAct(user(["agent"]), "escalate", ticket({ status: "escalated", tier: 3 }))).toBe(false);
    expect(mayAct(user(["agent"]), "escalate", ticket({ status: "escalated", tier: 2 }))).toBe(true);
  });
  it("nothing on a closed ticket, analysts only read", () => {
    expect(allowedActions(user(["admin"]), ticket({ status: "closed" }))).toEqual([]);
    expect(allowedActions(user(["analyst"]), ticket())).toEqual([]);
  });
  it("requester reply only while pending; the account manager of the city may relay it", () => {
    const p = ticket({ status: "pending" });
    expect(mayAct(user(["account_manager"], { city: "济南" }), "requester_reply", p)).toBe(true);
    expect(mayAct(user(["account_manager"], { city: "青岛" }), "requester_reply", p)).toBe(false);
    expect(mayAct(user(["agent"]), "resolve", p)).toBe(false);
  });
});

describe("summariseBulk", () => {
  it("counts successes and words the failures", () => {
    expect(summariseBulk([{ id: "A" }, { id: "B", error: "数据已被他人修改" }])).toEqual({ ok: 1, failed: ["B：数据已被他人修改"] });
  });
});
