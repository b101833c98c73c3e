import { describe, expect, it } from "vitest";
import { describeProblem, url } from "./api";

describe("describeProblem", () => {
  it("shows a 422's field errors", () => {
    expect(describeProblem(422, { errors: [{ field: "city", message: "unknown city" }] })).toBe("city: unknown city");
  });
  it("lists a refused gate's missing items", () => {
    expect(describeProblem(409, { title: "Gate not passed", missing: [{ label: "合同（未提交）" }, { label: "未确定厂家" }] }))
      .toBe("Gate not passed：合同（未提交）；未确定厂家");
  });
  it("prefers the detail, then the title, then words for the status", () => {
    expect(describeProblem(409, { detail: "already closed", title: "Conflict" })).toBe("already closed");
    expect(describeProblem(403, {})).toBe("没有权限执行此操作");
  });
});

describe("url", () => {
  it("puts the service under /api and drops empty filters", () => {
    expect(url("ticketing", "/v1/tickets", { kind: "complaint", city: "", limit: 20 })).toBe(
      "/api/ticketing/v1/tickets?kind=complaint&limit=20",
    );
  });
});
