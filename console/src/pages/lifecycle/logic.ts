// Pure logic of the lifecycle pages: the stages in order, where a product may move, which gate documents a stage
// leads to, colours for due dates, which actions a change allows. Tested in logic.test.ts.

export const STAGES = [
  "demand", "research", "review", "planning", "initiation", "development", "testing", "trial",
  "trial_commercial", "commercial", "delivered", "retired",
] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABELS: Record<string, { zh: string; en: string }> = {
  demand: { zh: "需求提出", en: "Demand" },
  research: { zh: "初步调研", en: "Research" },
  review: { zh: "评审决策", en: "Review" },
  planning: { zh: "工程进度与详细调研", en: "Planning" },
  initiation: { zh: "立项招标", en: "Initiation" },
  development: { zh: "开发", en: "Development" },
  testing: { zh: "测试", en: "Testing" },
  trial: { zh: "试用", en: "Trial" },
  trial_commercial: { zh: "试商用", en: "Trial commercial" },
  commercial: { zh: "商用", en: "Commercial" },
  delivered: { zh: "交付", en: "Delivered" },
  retired: { zh: "下线", en: "Retired" },
};

export const DOCUMENT_TYPES: Record<string, string> = {
  research_report: "调研报告",
  function_proposal: "功能建议书",
  schedule: "工程进度表",
  initiation_request: "立项申请",
  technical_spec: "技术规范书",
  contract: "合同",
  test_case_list: "功能测试列表",
  om_manual: "操作维护手册",
  test_report: "测试报告",
  trial_evaluation: "试用评估",
  user_manual: "操作手册",
  process_description: "流程说明",
  function_intro: "功能介绍",
  tariff_table: "资费表",
  trial_commercial_evaluation: "试商用评估",
  summary: "试商用总结",
  training_material: "培训材料",
  capability_catalog: "开放能力库",
  handover_record: "交付确认单（信息化推进室签收）",
  procurement_request: "采购申请",
  tender_document: "招标书",
  bid_evaluation: "评标报告",
  optimisation_plan: "优化方案",
  other: "其他文档",
};

/** The documents the gate out of each stage asks for (docs/lifecycle.md, Gates), offered first when filing. */
export const GATE_DOCUMENTS: Record<string, string[]> = {
  research: ["research_report"],
  planning: ["function_proposal", "schedule"],
  initiation: ["initiation_request", "technical_spec", "contract"],
  development: ["test_case_list", "om_manual"],
  testing: ["test_report"],
  trial: ["trial_evaluation", "user_manual", "process_description", "function_intro", "tariff_table"],
  trial_commercial: ["trial_commercial_evaluation", "summary"],
  commercial: ["training_material", "capability_catalog", "handover_record"],
};

/** The document types in the order a filing form offers them: the current gate's first, then the rest. */
export function documentTypeOrder(stage: string): string[] {
  const first = GATE_DOCUMENTS[stage] ?? [];
  return [...first, ...Object.keys(DOCUMENT_TYPES).filter((t) => !first.includes(t))];
}

export function nextStage(stage: string): Stage | null {
  const i = STAGES.indexOf(stage as Stage);
  if (i < 0 || stage === "delivered" || stage === "retired") return null;
  return STAGES[i + 1];
}

/** Where a product may move from `stage`: the next stage, back to development from testing, or retired. */
export function allowedTargets(stage: string): Stage[] {
  if (stage === "retired") return [];
  const out: Stage[] = [];
  const next = nextStage(stage);
  if (next) out.push(next);
  if (stage === "testing") out.push("development");
  out.push("retired");
  return out;
}

/** A move needs a note when it retires the product. */
export const noteRequired = (to: string) => to === "retired";

export function stageLabel(stage: string | null | undefined, lang: "zh" | "en" = "zh"): string {
  if (!stage) return "";
  return STAGE_LABELS[stage]?.[lang] ?? stage;
}

/** The portfolio's stage counts as board columns in stage order, every stage present (empty ones too). */
export function boardColumns(byStage: { stage: string; count: number; codes: string[] }[]): { stage: string; codes: string[] }[] {
  const found = new Map(byStage.map((s) => [s.stage, s.codes]));
  return STAGES.map((s) => ({ stage: s, codes: found.get(s) ?? [] }));
}

/** Colour of a due day against today (both YYYY-MM-DD): red when past, orange within `soon` days, else green. */
export function dueColour(due: string | null | undefined, today: string, soon = 7): "red" | "orange" | "green" | "default" {
  if (!due) return "default";
  const days = Math.round((Date.parse(due) - Date.parse(today)) / 86_400_000);
  if (days < 0) return "red";
  if (days <= soon) return "orange";
  return "green";
}

/** Today in Beijing as YYYY-MM-DD (the day the service's dates are counted in). */
export function beijingToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** The moves a change allows from its state (docs/lifecycle-maintenance.md). */
export function changeActions(state: string): string[] {
  switch (state) {
    case "planned":
      return ["approve", "cancel"];
    case "approved":
      return ["start", "cancel"];
    case "in_progress":
      return ["complete"];
    default:
      return [];
  }
}

export const CHANGE_ACTION_LABELS: Record<string, string> = {
  approve: "审批通过",
  start: "开始实施",
  complete: "完成",
  cancel: "取消",
};

/** What the body of a change's move needs: cancel a reason, complete an outcome and (unless success) notes. */
export function changeBody(action: string, v: { note?: string; reason?: string; outcome?: string; notes?: string }) {
  const text = (s?: string) => (s && s.trim() ? s.trim() : undefined);
  switch (action) {
    case "cancel":
      return { reason: text(v.reason) };
    case "complete":
      return { outcome: v.outcome ?? "success", notes: text(v.notes) };
    default:
      return { note: text(v.note) };
  }
}

export function yuan(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return `${n.toLocaleString("zh-CN")} 元`;
}

/** A product's manager: an admin, or a product manager whose scope names it or who is among its managers. */
export function mayManage(who: { sub: string; roles: string[]; products?: string[] } | null,
                          product: { code: string; product_managers?: string[] } | null): boolean {
  if (!who || !product) return false;
  if (who.roles.includes("admin")) return true;
  if (!who.roles.includes("product_manager")) return false;
  return (who.products ?? []).includes(product.code) || (product.product_managers ?? []).includes(who.sub);
}

/** The missing items of a refused move (409 gate-blocked), from the problem body. */
export function missingOf(problem: Record<string, unknown> | undefined | null): { code: string; label: string }[] {
  const m = problem?.missing;
  return Array.isArray(m) ? (m as { code: string; label: string }[]) : [];
}

/** Names typed as one line (participants), split on Chinese or Latin commas. */
export function splitNames(text: string): string[] {
  return text.split(/[,，、;；\n]+/).map((s) => s.trim()).filter(Boolean);
}

export const CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽"];

/** Pilot customers typed one a line as "客户名称, 地市" (or "客户名称 地市"); lines without a city are kept with
 *  city "" so the service names them (customers.N.city). */
export function parseCustomers(text: string): { name: string; city: string }[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const parts = l.split(/[,，\s]+/).filter(Boolean);
      if (parts.length < 2) return { name: l, city: "" };
      const city = parts[parts.length - 1];
      return { name: parts.slice(0, -1).join(" "), city };
    });
}

/** Lines of text, blanks dropped (evidence references). */
export const lines = (text: string | undefined) => (text ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
