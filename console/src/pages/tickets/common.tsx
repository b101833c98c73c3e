// Small pieces shared by the tickets pages: a ticking clock, the SLA tag, the status tag, the product list.
import { Tag, Tooltip } from "antd";
import { useEffect, useState } from "react";
import { api } from "../../lib/api";
import { STATUS_COLORS, STATUS_LABELS, formatTime, label, slaCountdown, type Countdown } from "./logic";

export interface Ticket {
  id: string;
  kind: string;
  kind_label?: string;
  status: string;
  status_label?: string;
  channel: string;
  product_code: string;
  city: string;
  industry?: string | null;
  priority: string;
  severity?: number | null;
  title: string;
  description: string;
  customer: { name: string; contact?: string | null; group_name: string; group_code?: string | null };
  tier: number;
  tier_reached: number;
  assignee?: string | null;
  escalation?: { tier: number; target: string; reason: string; at: string } | null;
  sla: {
    respond_by: string;
    resolve_by: string;
    update_by?: string | null;
    breached: boolean;
    responded_timely: boolean | null;
    timely: boolean | null;
    paused_seconds: number;
    breaches: { deadline: string; deadline_at: string; late_seconds: number }[];
  };
  received_at: string;
  first_response_at?: string | null;
  resolved_at?: string | null;
  closed_at?: string | null;
  answer?: string | null;
  cause?: string | null;
  knowledge_article_id?: string | null;
  feedback?: { satisfied: boolean; score?: number | null; comment?: string | null; at: string } | null;
  reopen_count: number;
  notes: { at: string; author: string; body: string; visibility: string; origin?: string | null }[];
  attachments: { id: string; filename: string; content_type: string; size: number; uploaded_by?: string; uploaded_at?: string }[];
  pauses: { start: string; end?: string | null; needed: string; reply?: string | null }[];
  proposed_answer?: { answer: string; cause?: string | null; by: string; by_name?: string | null; tier: number; at: string } | null;
  close_reason?: string | null;
  merged_into?: string | null;
  merged_from?: string[];
  filed_by: string;
  opened_at: string;
  updated_at: string;
  version: number;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The current time, re-read every `ms` (the countdowns move). */
export function useNow(ms = 30000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), ms);
    return () => clearInterval(id);
  }, [ms]);
  return now;
}

const TAG_COLOUR: Record<Countdown["colour"], string> = { green: "success", orange: "warning", red: "error", grey: "default" };

export function CountdownTag({ countdown, prefix, testId }: { countdown: Countdown; prefix?: string; testId?: string }) {
  return (
    <Tag color={TAG_COLOUR[countdown.colour]} data-testid={testId} data-colour={countdown.colour}>
      {prefix ? `${prefix} ` : ""}
      {countdown.text}
    </Tag>
  );
}

export function DeadlineTag(props: { start: string; deadline: string; now: Date; done?: boolean; doneAt?: string | null; breached?: boolean; prefix: string; testId?: string }) {
  const c = slaCountdown(props.start, props.deadline, props.now, { done: props.done, doneAt: props.doneAt, breached: props.breached });
  return (
    <Tooltip title={formatTime(props.deadline)}>
      <span>
        <CountdownTag countdown={c} prefix={props.prefix} testId={props.testId} />
      </span>
    </Tooltip>
  );
}

export function StatusTag({ status, testId }: { status: string; testId?: string }) {
  return (
    <Tag color={STATUS_COLORS[status]} data-testid={testId} data-status={status}>
      {label(STATUS_LABELS, status)}
    </Tag>
  );
}

export interface ProductOption {
  value: string;
  label: string;
}

let productsCache: Promise<ProductOption[]> | null = null;

/** The catalog's products (lifecycle GET /v1/products), for filters and the new-ticket form; empty if unreachable. */
export function useProducts(): ProductOption[] {
  const [products, setProducts] = useState<ProductOption[]>([]);
  useEffect(() => {
    if (!productsCache) {
      productsCache = (async () => {
        const all: ProductOption[] = [];
        let cursor: string | null = null;
        for (let i = 0; i < 10; i++) {
          const page: Page<{ code: string; name: string }> = await api("lifecycle", "/v1/products", { query: { limit: 200, cursor } });
          all.push(...page.items.map((p) => ({ value: p.code, label: `${p.name}（${p.code}）` })));
          cursor = page.next_cursor;
          if (!cursor) break;
        }
        return all;
      })().catch(() => {
        productsCache = null;
        return [];
      });
    }
    let live = true;
    productsCache.then((p) => live && setProducts(p));
    return () => {
      live = false;
    };
  }, []);
  return products;
}
