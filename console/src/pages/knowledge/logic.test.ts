import { describe, expect, it } from "vitest";
import {
  articleActions,
  diffLines,
  lineChange,
  pairChanges,
  dispositionFilename,
  faqFilename,
  highlight,
  mayDecide,
  parseTags,
  previousMonth,
  readsDrafts,
} from "./logic";

describe("highlight", () => {
  it("cuts a text by [start, end) offsets", () => {
    expect(highlight("移动办公无法登录", [[6, 8]])).toEqual([
      { text: "移动办公无法", hit: false },
      { text: "登录", hit: true },
    ]);
  });
  it("merges overlapping and adjacent spans, clips spans outside the text", () => {
    expect(highlight("abcdef", [[1, 3], [2, 4], [4, 5], [10, 12], [-2, 0]])).toEqual([
      { text: "a", hit: false },
      { text: "bcde", hit: true },
      { text: "f", hit: false },
    ]);
  });
  it("counts characters as code points (as the service does)", () => {
    expect(highlight("😀登录", [[1, 3]])).toEqual([
      { text: "😀", hit: false },
      { text: "登录", hit: true },
    ]);
  });
  it("keeps markup as text", () => {
    expect(highlight("<b>x</b>", [])).toEqual([{ text: "<b>x</b>", hit: false }]);
  });
  it("handles no spans and an empty text", () => {
    expect(highlight("abc", null)).toEqual([{ text: "abc", hit: false }]);
    expect(highlight("", [[0, 1]])).toEqual([]);
  });
});

describe("diffLines", () => {
  it("reads a unified diff", () => {
    const unified = "--- v1\n+++ v3\n@@ -1,2 +1,3 @@\n 1. 确认版本\n-2. 转产品经理\n+2. 切换网络重试\n+3. 转产品经理\n";
    expect(diffLines(unified)).toEqual([
      { kind: "header", text: "--- v1" },
      { kind: "header", text: "+++ v3" },
      { kind: "hunk", text: "@@ -1,2 +1,3 @@" },
      { kind: "context", text: "1. 确认版本" },
      { kind: "removed", text: "2. 转产品经理" },
      { kind: "added", text: "2. 切换网络重试" },
      { kind: "added", text: "3. 转产品经理" },
    ]);
  });
  it("is empty for equal bodies", () => {
    expect(diffLines("")).toEqual([]);
  });
});

describe("articleActions", () => {
  const agent = { roles: ["agent"] };
  const pm = { roles: ["product_manager"], products: ["mobile_office"] };
  const admin = { roles: ["admin"] };
  it("lets authors edit, validators publish and archive", () => {
    expect(articleActions("draft", agent, "mobile_office")).toEqual(["edit"]);
    expect(articleActions("draft", pm, "mobile_office")).toEqual(["edit", "publish", "archive"]);
    expect(articleActions("published", pm, "mobile_office")).toEqual(["edit", "archive"]);
    expect(articleActions("published", admin, "x")).toEqual(["edit", "archive"]);
  });
  it("keeps a product manager to their products, but general articles are any's", () => {
    expect(articleActions("draft", pm, "group_directory")).toEqual([]);
    expect(articleActions("draft", pm, null)).toEqual(["edit", "publish", "archive"]);
  });
  it("allows nothing on an archived article, nor to readers", () => {
    expect(articleActions("archived", admin, null)).toEqual([]);
    expect(articleActions("draft", { roles: ["analyst"] }, null)).toEqual([]);
  });
});

describe("mayDecide", () => {
  it("is an open candidate of the product manager's product, or any for an admin", () => {
    const pm = { roles: ["product_manager"], products: ["mobile_office"] };
    expect(mayDecide(pm, { state: "open", product_code: "mobile_office" })).toBe(true);
    expect(mayDecide(pm, { state: "open", product_code: "field_force" })).toBe(false);
    expect(mayDecide(pm, { state: "promoted", product_code: "mobile_office" })).toBe(false);
    expect(mayDecide({ roles: ["admin"] }, { state: "open", product_code: "x" })).toBe(true);
    expect(mayDecide({ roles: ["agent"] }, { state: "open", product_code: "x" })).toBe(false);
  });
});

describe("readsDrafts", () => {
  it("is the centre's staff, vendors included: not a channel system nor an account manager alone", () => {
    expect(readsDrafts({ roles: ["agent"] })).toBe(true);
    expect(readsDrafts({ roles: ["vendor"] })).toBe(true);
    expect(readsDrafts({ roles: ["account_manager", "agent"] })).toBe(true);
    expect(readsDrafts({ roles: ["account_manager"] })).toBe(false);
    expect(readsDrafts({ roles: ["intake", "account_manager"] })).toBe(false);
  });
});

describe("file names and months", () => {
  it("reads Content-Disposition, else names the FAQ as the service does", () => {
    expect(dispositionFilename('attachment; filename="faq-mobile_office-2026-03.docx"')).toBe("faq-mobile_office-2026-03.docx");
    expect(dispositionFilename(null)).toBeNull();
    expect(faqFilename("mobile_office", "2026-03", "md")).toBe("faq-mobile_office-2026-03.md");
  });
  it("gives the previous month, across a year", () => {
    expect(previousMonth(new Date(2026, 0, 15))).toBe("2025-12");
    expect(previousMonth(new Date(2026, 2, 31))).toBe("2026-02");
  });
  it("splits tags", () => {
    expect(parseTags("审批， 登录,登录 、 升级")).toEqual(["审批", "登录", "升级"]);
    expect(parseTags("  ")).toEqual([]);
  });
});

describe("lineChange", () => {
  it("keeps the shared start and end and gives the words in between", () => {
    expect(lineChange("1. 请客户打开手机蓝牙", "1. 请客户打开手机蓝牙和定位权限")).toEqual(
      { before: "1. 请客户打开手机蓝牙", removed: "", added: "和定位权限", after: "" });
    expect(lineChange("资费每月10元", "资费每月20元")).toEqual({ before: "资费每月", removed: "1", added: "2", after: "0元" });
  });
  it("does not let the shared start and end overlap", () => {
    expect(lineChange("aa", "aaa")).toEqual({ before: "aa", removed: "", added: "a", after: "" });
  });
});

describe("pairChanges", () => {
  it("pairs a removed run with an added run of the same length only", () => {
    const lines = diffLines("@@ -1,3 +1,3 @@\n a\n-b\n-c\n+B\n+C\n-d\n+D1\n+D2\n");
    expect(pairChanges(lines)).toEqual([null, null, 4, 5, 2, 3, null, null, null]);
  });
});
