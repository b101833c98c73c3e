// Pure logic of the knowledge pages: vocabulary labels, highlighted snippets, the readable diff, which actions an
// article allows for whom, and the monthly FAQ's download name. Tested in logic.test.ts.

export const ARTICLE_TYPES = ["service_script", "complaint_guide", "faq", "manual", "tariff", "training"] as const;
export type ArticleType = (typeof ARTICLE_TYPES)[number];

export const TYPE_LABELS: Record<string, { zh: string; en: string }> = {
  service_script: { zh: "客服口径", en: "Service script" },
  complaint_guide: { zh: "投诉指导手册", en: "Complaint handbook" },
  faq: { zh: "常见问题", en: "FAQ" },
  manual: { zh: "操作手册", en: "Manual" },
  tariff: { zh: "资费表", en: "Tariff" },
  training: { zh: "培训材料", en: "Training" },
};

export const STATE_LABELS: Record<string, { zh: string; en: string; color: string }> = {
  draft: { zh: "草稿", en: "Draft", color: "gold" },
  published: { zh: "已发布", en: "Published", color: "green" },
  archived: { zh: "已归档", en: "Archived", color: "default" },
};

export const AUDIENCE_LABELS: Record<string, { zh: string; en: string }> = {
  internal: { zh: "内部员工", en: "Internal staff" },
  account_manager: { zh: "客户经理", en: "Account managers" },
  customer: { zh: "客户", en: "Customers" },
};

export const CANDIDATE_STATE_LABELS: Record<string, { zh: string; en: string; color: string }> = {
  open: { zh: "待处理", en: "Open", color: "blue" },
  promoted: { zh: "已转为知识", en: "Promoted", color: "green" },
  dismissed: { zh: "已驳回", en: "Dismissed", color: "default" },
};

export function label(table: Record<string, { zh: string; en: string }>, key: string | null | undefined,
                      lang: "zh" | "en"): string {
  if (!key) return "";
  return table[key]?.[lang] ?? key;
}

/** A text cut into plain and highlighted pieces by `[start, end)` offsets (overlapping or unsorted spans are
 *  merged; spans outside the text are clipped). The pieces are rendered as text, never as markup. */
export interface Piece {
  text: string;
  hit: boolean;
}

export function highlight(text: string, spans: [number, number][] | undefined | null): Piece[] {
  const chars = Array.from(text ?? "");
  // The service counts characters as Python does (code points), so work on code points, not UTF-16 units.
  const marks = new Array<boolean>(chars.length).fill(false);
  for (const [s, e] of spans ?? []) {
    for (let i = Math.max(0, s); i < Math.min(chars.length, e); i++) marks[i] = true;
  }
  const out: Piece[] = [];
  for (let i = 0; i < chars.length; i++) {
    const last = out[out.length - 1];
    if (last && last.hit === marks[i]) last.text += chars[i];
    else out.push({ text: chars[i], hit: marks[i] });
  }
  return out;
}

/** The unified diff of two bodies as lines to show: headers, hunk markers, context, added, removed. */
export interface DiffLine {
  kind: "header" | "hunk" | "context" | "added" | "removed";
  text: string;
}

export function diffLines(unified: string | null | undefined): DiffLine[] {
  if (!unified) return [];
  const out: DiffLine[] = [];
  for (const raw of unified.replace(/\n$/, "").split("\n")) {
    if (raw.startsWith("---") || raw.startsWith("+++")) out.push({ kind: "header", text: raw });
    else if (raw.startsWith("@@")) out.push({ kind: "hunk", text: raw });
    else if (raw.startsWith("+")) out.push({ kind: "added", text: raw.slice(1) });
    else if (raw.startsWith("-")) out.push({ kind: "removed", text: raw.slice(1) });
    else out.push({ kind: "context", text: raw.startsWith(" ") ? raw.slice(1) : raw });
  }
  return out;
}

/** A changed line's words: the part of `from` and of `to` between what they share at the start and at the end
 *  (code points, as the rest of the knowledge pages count), so a diff can show which words a line changed. */
export interface LineChange {
  before: string;
  removed: string;
  added: string;
  after: string;
}

export function lineChange(from: string, to: string): LineChange {
  const a = Array.from(from), b = Array.from(to);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  return { before: a.slice(0, start).join(""), removed: a.slice(start, a.length - end).join(""),
    added: b.slice(start, b.length - end).join(""), after: a.slice(a.length - end).join("") };
}

/** The lines of a diff with each replaced line paired to its replacement: a run of n removed lines followed by a
 *  run of n added lines is n changed lines (`pair` = the index of the other line of the pair), else none. */
export function pairChanges(lines: DiffLine[]): (number | null)[] {
  const pair: (number | null)[] = lines.map(() => null);
  for (let i = 0; i < lines.length; ) {
    if (lines[i].kind !== "removed") { i++; continue; }
    let r = i;
    while (r < lines.length && lines[r].kind === "removed") r++;
    let e = r;
    while (e < lines.length && lines[e].kind === "added") e++;
    if (e - r === r - i) for (let k = 0; k < r - i; k++) { pair[i + k] = r + k; pair[r + k] = i + k; }
    i = e;
  }
  return pair;
}

export interface Who {
  roles: string[];
  products?: string[];
}

const has = (who: Who, ...roles: string[]) => who.roles.includes("admin") || roles.some((r) => who.roles.includes(r));

/** Whether `who` reads drafts (the centre's staff, vendors included): not a channel system nor an account manager.
 *  Asking the service for drafts otherwise is a 403 (`state=draft` on the list, `include_drafts` on search). */
export function readsDrafts(who: Who): boolean {
  return !who.roles.every((r) => r === "intake" || r === "account_manager");
}

/** Whether `who` may validate (publish, archive) the knowledge of this product: an admin, or a product manager of
 *  the product (any product manager for a general article). */
export function mayValidate(who: Who, productCode: string | null | undefined): boolean {
  if (who.roles.includes("admin")) return true;
  if (!who.roles.includes("product_manager")) return false;
  return !productCode || (who.products ?? []).includes(productCode);
}

/** Whether `who` may write or edit an article of this product. */
export function mayWrite(who: Who, productCode: string | null | undefined): boolean {
  if (has(who, "agent", "complaint_handler")) return true;
  return mayValidate(who, productCode);
}

/** The actions an article in `state` allows to `who`: edit (a new version), publish, archive. */
export function articleActions(state: string, who: Who, productCode: string | null | undefined): string[] {
  const out: string[] = [];
  if ((state === "draft" || state === "published") && mayWrite(who, productCode)) out.push("edit");
  if (state === "draft" && mayValidate(who, productCode)) out.push("publish");
  if ((state === "draft" || state === "published") && mayValidate(who, productCode)) out.push("archive");
  return out;
}

/** Promote and dismiss: an open candidate, by a product manager of its product or an admin. */
export function mayDecide(who: Who, candidate: { state: string; product_code: string }): boolean {
  return candidate.state === "open" && mayValidate(who, candidate.product_code);
}

/** The download name of the monthly FAQ, as the service names it (faq-<product>-<YYYY-MM>.<ext>). */
export function faqFilename(productCode: string, month: string, format: string, disposition?: string | null): string {
  return dispositionFilename(disposition) ?? `faq-${productCode}-${month}.${format}`;
}

/** The file name a Content-Disposition header gives (`filename="…"` or `filename*=UTF-8''…`), else null. */
export function dispositionFilename(disposition: string | null | undefined): string | null {
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition ?? "");
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** The month before `today` as YYYY-MM (the month a FAQ is usually made for). */
export function previousMonth(today: Date = new Date()): string {
  const d = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

/** Tags typed as one line, split on commas (Chinese or Latin) and spaces; blanks and repeats dropped. */
export function parseTags(text: string): string[] {
  const seen: string[] = [];
  for (const t of text.split(/[,，、\s]+/)) {
    const v = t.trim();
    if (v && !seen.includes(v)) seen.push(v);
  }
  return seen;
}
