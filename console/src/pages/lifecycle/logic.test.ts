import { describe, expect, it } from "vitest";
import {
  allowedTargets,
  beijingToday,
  boardColumns,
  changeActions,
  changeBody,
  documentTypeOrder,
  dueColour,
  lines,
  parseCustomers,
  mayManage,
  missingOf,
  nextStage,
  noteRequired,
  splitNames,
  stageLabel,
  yuan,
} from "./logic";

describe("stages", () => {
  it("moves one stage forward, back to development from testing, or retires", () => {
    expect(allowedTargets("demand")).toEqual(["research", "retired"]);
    expect(allowedTargets("testing")).toEqual(["trial", "development", "retired"]);
    expect(allowedTargets("commercial")).toEqual(["delivered", "retired"]);
    expect(allowedTargets("delivered")).toEqual(["retired"]);
    expect(allowedTargets("retired")).toEqual([]);
  });
  it("knows the next stage", () => {
    expect(nextStage("trial")).toBe("trial_commercial");
    expect(nextStage("delivered")).toBeNull();
    expect(nextStage("nonsense")).toBeNull();
  });
  it("needs a note to retire only", () => {
    expect(noteRequired("retired")).toBe(true);
    expect(noteRequired("review")).toBe(false);
  });
  it("labels stages in Chinese first", () => {
    expect(stageLabel("trial_commercial")).toBe("试商用");
    expect(stageLabel("planning", "en")).toBe("Planning");
    expect(stageLabel("unknown")).toBe("unknown");
  });
  it("offers the gate's documents first", () => {
    const order = documentTypeOrder("development");
    expect(order.slice(0, 2)).toEqual(["test_case_list", "om_manual"]);
    expect(new Set(order).size).toBe(order.length);
    expect(documentTypeOrder("demand")[0]).toBe("research_report");
  });
});

describe("board", () => {
  it("lays every stage out in order, empty ones too", () => {
    const cols = boardColumns([{ stage: "trial", count: 1, codes: ["farm_watch"] }, { stage: "demand", count: 1, codes: ["x"] }]);
    expect(cols).toHaveLength(12);
    expect(cols[0]).toEqual({ stage: "demand", codes: ["x"] });
    expect(cols[7]).toEqual({ stage: "trial", codes: ["farm_watch"] });
    expect(cols[1].codes).toEqual([]);
  });
});

describe("due colours", () => {
  it("is red when past, orange when soon, green otherwise", () => {
    expect(dueColour("2026-11-30", "2026-12-02")).toBe("red");
    expect(dueColour("2026-12-02", "2026-12-02")).toBe("orange");
    expect(dueColour("2026-12-09", "2026-12-02")).toBe("orange");
    expect(dueColour("2026-12-10", "2026-12-02")).toBe("green");
    expect(dueColour(null, "2026-12-02")).toBe("default");
  });
  it("counts today in Beijing", () => {
    expect(beijingToday(new Date("2026-12-02T16:30:00Z"))).toBe("2026-12-03");
    expect(beijingToday(new Date("2026-12-02T15:59:00Z"))).toBe("2026-12-02");
  });
});

describe("changes", () => {
  it("allows the moves of the change's state", () => {
    expect(changeActions("planned")).toEqual(["approve", "cancel"]);
    expect(changeActions("approved")).toEqual(["start", "cancel"]);
    expect(changeActions("in_progress")).toEqual(["complete"]);
    expect(changeActions("done")).toEqual([]);
    expect(changeActions("cancelled")).toEqual([]);
  });
  it("builds each move's body", () => {
    expect(changeBody("cancel", { reason: " 改期 " })).toEqual({ reason: "改期" });
    expect(changeBody("complete", { outcome: "rolled_back", notes: "已回退" })).toEqual({ outcome: "rolled_back", notes: "已回退" });
    expect(changeBody("complete", {})).toEqual({ outcome: "success", notes: undefined });
    expect(changeBody("approve", { note: "" })).toEqual({ note: undefined });
  });
});

describe("who manages", () => {
  const product = { code: "mobile_office", product_managers: ["pm-li"] };
  it("is an admin, or a product manager by scope or by name", () => {
    expect(mayManage({ sub: "a", roles: ["admin"] }, product)).toBe(true);
    expect(mayManage({ sub: "x", roles: ["product_manager"], products: ["mobile_office"] }, product)).toBe(true);
    expect(mayManage({ sub: "pm-li", roles: ["product_manager"], products: [] }, product)).toBe(true);
    expect(mayManage({ sub: "x", roles: ["product_manager"], products: ["other"] }, product)).toBe(false);
    expect(mayManage({ sub: "pm-li", roles: ["agent"] }, product)).toBe(false);
    expect(mayManage(null, product)).toBe(false);
  });
});

describe("helpers", () => {
  it("reads a refused gate's missing items", () => {
    expect(missingOf({ missing: [{ code: "contract", label: "合同（未提交）" }] })).toEqual([{ code: "contract", label: "合同（未提交）" }]);
    expect(missingOf({ detail: "x" })).toEqual([]);
    expect(missingOf(null)).toEqual([]);
  });
  it("splits names and formats money", () => {
    expect(splitNames("总经理，信息化中心主任、 张三,")).toEqual(["总经理", "信息化中心主任", "张三"]);
    expect(yuan(1500000)).toBe("1,500,000 元");
    expect(yuan(null)).toBe("—");
  });
});

describe("trial inputs", () => {
  it("reads pilot customers one a line", () => {
    expect(parseCustomers("济南某公司, 济南\n青岛 港务 集团 青岛\n\n孤立客户")).toEqual([
      { name: "济南某公司", city: "济南" },
      { name: "青岛 港务 集团", city: "青岛" },
      { name: "孤立客户", city: "" },
    ]);
  });
  it("reads evidence lines", () => {
    expect(lines(" a \n\nb")).toEqual(["a", "b"]);
    expect(lines(undefined)).toEqual([]);
  });
});
