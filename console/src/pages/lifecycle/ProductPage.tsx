// A product's page (/lifecycle/:code): its stage and what the next move lacks (GET …/gate), the move itself
// (POST …/transitions; a refused gate's `missing` items listed), documents (file one, approve), decisions, the
// timeline (paged), the trial views and the procurement steps.
import { App, Alert, Button, Card, Checkbox, Col, Descriptions, Empty, Form, Input, List, Modal, Radio, Row, Select, Space, Spin, Table, Tabs, Tag, Timeline, Typography } from "antd";
import dayjs from "dayjs";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiError, api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { loadCatalog } from "../knowledge/products";
import { usePaged } from "../knowledge/usePaged";
import { CITIES, DOCUMENT_TYPES, allowedTargets, lines, parseCustomers, documentTypeOrder, mayManage, missingOf, noteRequired, splitNames, stageLabel, yuan } from "./logic";
import "./words";
import { FormRadioGroup, FormSelect } from "../../lib/formControls";

interface Product {
  code: string;
  name: string;
  stage: string;
  stage_label: string;
  vendor?: string | null;
  product_managers: string[];
  budget_cny?: number | null;
  platform_code?: string | null;
  stage_entered_at?: string | null;
  description?: string | null;
}

interface Gate {
  stage: string;
  entered_at: string;
  next_stage: string | null;
  missing: { code: string; label: string }[];
  earliest_end?: string | null;
}

interface Document {
  id: string;
  type: string;
  type_label: string;
  version: number;
  title: string;
  ref: string;
  approved: boolean;
  approved_by?: string | null;
  owner: string;
  at: string;
}

interface Decision {
  id: string;
  kind_label: string;
  outcome: string;
  outcome_label: string;
  participants: string[];
  note?: string | null;
  ref?: string | null;
  by: string;
  at: string;
}

const fmt = (v?: string | null) => (v ? dayjs(v).format("YYYY-MM-DD HH:mm") : "—");

function Overview({ product, gate, manager, onMoved }: { product: Product; gate: Gate | null; manager: boolean; onMoved: () => void }) {
  const { t, lang } = useLang();
  const { has } = useAuth();
  const { message } = App.useApp();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<{ text: string; missing: { code: string; label: string }[] } | null>(null);
  const [form] = Form.useForm();
  const to = Form.useWatch("to", form);
  const targets = allowedTargets(product.stage);

  const move = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setRefused(null);
    try {
      await api("lifecycle", `/v1/products/${product.code}/transitions`, {
        method: "POST",
        body: { to: v.to, note: v.note?.trim() || undefined, override_reason: v.override_reason?.trim() || undefined },
      });
      message.success(t("lc.moved"));
      setOpen(false);
      onMoved();
    } catch (e: any) {
      if (e instanceof ApiError && missingOf(e.problem).length) setRefused({ text: e.message, missing: missingOf(e.problem) });
      else message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Descriptions bordered size="small" column={{ xs: 1, sm: 2, lg: 3 }}>
        <Descriptions.Item label={t("lc.stage")}><Tag color="blue" data-testid="product-stage">{stageLabel(product.stage, lang)}</Tag></Descriptions.Item>
        <Descriptions.Item label={t("lc.enteredAt")}>{fmt(gate?.entered_at ?? product.stage_entered_at)}</Descriptions.Item>
        <Descriptions.Item label={t("lc.platform")}>{product.platform_code ?? "—"}</Descriptions.Item>
        <Descriptions.Item label={t("lc.vendor")}>{product.vendor ?? "—"}</Descriptions.Item>
        <Descriptions.Item label={t("lc.managers")}>{product.product_managers.join("、") || "—"}</Descriptions.Item>
        <Descriptions.Item label={t("lc.budget")}>{yuan(product.budget_cny)}</Descriptions.Item>
      </Descriptions>
      {gate && gate.next_stage && (
        <Card size="small" title={`${t("lc.nextStage")}：${stageLabel(gate.next_stage, lang)}`} data-testid="product-gate">
          {gate.missing.length ? (
            <List size="small" dataSource={gate.missing} renderItem={(m) => (
              <List.Item data-testid={`gate-missing-${m.code}`}><Typography.Text type="danger">✗ {m.label}</Typography.Text></List.Item>
            )} />
          ) : (
            <Alert type="success" showIcon message={t("lc.gateOpen")} />
          )}
          {gate.earliest_end && <Typography.Text type="secondary">{t("lc.earliestEnd")}：{gate.earliest_end}</Typography.Text>}
        </Card>
      )}
      {manager && targets.length > 0 && (
        <Button type="primary" onClick={() => { form.resetFields(); form.setFieldsValue({ to: targets[0] }); setRefused(null); setOpen(true); }}
          data-testid="action-transition">
          {t("lc.move")}
        </Button>
      )}
      <Modal open={open} title={t("lc.move")} onCancel={() => setOpen(false)}
        footer={open && [
          <Button key="c" onClick={() => setOpen(false)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={move} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          <Form.Item name="to" label={t("lc.moveTo")} rules={[{ required: true }]}>
            <FormRadioGroup data-testid="transition-to">
              {targets.map((s) => <Radio key={s} value={s} data-testid={`transition-to-${s}`}>{stageLabel(s, lang)}</Radio>)}
            </FormRadioGroup>
          </Form.Item>
          <Form.Item name="note" label={t("lc.note")}
            rules={noteRequired(to) ? [{ required: true, whitespace: true, message: t("lc.noteRequired") }] : []}>
            <Input.TextArea rows={2} maxLength={2000} data-testid="transition-note" />
          </Form.Item>
          {has("admin") && (
            <Form.Item name="override_reason" label={t("lc.override")}>
              <Input maxLength={2000} data-testid="transition-override" />
            </Form.Item>
          )}
        </Form>
        {refused && (
          <Alert type="error" showIcon data-testid="transition-refused" message={t("lc.refused")}
            description={<ul style={{ margin: 0, paddingLeft: 18 }}>{refused.missing.map((m) => <li key={m.code}>{m.label}</li>)}</ul>} />
        )}
      </Modal>
    </Space>
  );
}

function Documents({ product, manager, onChange }: { product: Product; manager: boolean; onChange: () => void }) {
  const { t } = useLang();
  const { has } = useAuth();
  const { message } = App.useApp();
  const list = usePaged<Document>("lifecycle", `/v1/products/${product.code}/documents`, {}, 50);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const canFile = manager || has("vendor");

  const file = async () => {
    const v = await form.validateFields();
    setBusy(true);
    try {
      await api("lifecycle", `/v1/products/${product.code}/documents`, {
        method: "POST", body: { type: v.type, title: v.title.trim(), ref: v.ref.trim(), approved: manager ? !!v.approved : false },
      });
      message.success(t("lc.saved"));
      setOpen(false);
      list.reload();
      onChange();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  const approve = async (d: Document) => {
    try {
      await api("lifecycle", `/v1/products/${product.code}/documents/${encodeURIComponent(d.id)}/approve`, { method: "POST" });
      message.success(t("lc.approved"));
      list.reload();
      onChange();
    } catch (e: any) {
      message.error(e.message);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {canFile && (
        <Button type="primary" data-testid="action-file-document"
          onClick={() => { form.resetFields(); form.setFieldsValue({ type: documentTypeOrder(product.stage)[0] }); setOpen(true); }}>
          {t("lc.fileDocument")}
        </Button>
      )}
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Document> rowKey="id" size="small" loading={list.loading} dataSource={list.items} pagination={false} scroll={{ x: 700 }}
        onRow={(d) => ({ "data-testid": `document-row-${d.id}` }) as any}
        columns={[
          { title: t("lc.docType"), dataIndex: "type_label", width: 140 },
          { title: t("lc.version"), dataIndex: "version", width: 60, render: (v) => `v${v}` },
          { title: t("lc.title"), dataIndex: "title" },
          { title: t("lc.ref"), dataIndex: "ref", render: (v: string) => (/^https?:\/\//.test(v) ? <a href={v} target="_blank" rel="noreferrer">{v}</a> : v) },
          { title: t("lc.status"), dataIndex: "approved", width: 90,
            render: (v) => <Tag color={v ? "green" : "gold"}>{v ? t("lc.approved") : t("lc.notApproved")}</Tag> },
          { title: t("lc.owner"), dataIndex: "owner", width: 100 },
          { title: t("lc.at"), dataIndex: "at", width: 140, render: fmt },
          { title: t("lc.actions"), width: 100,
            render: (_, d) => manager && !d.approved ? <Button size="small" onClick={() => approve(d)} data-testid="action-approve-document">{t("lc.approve")}</Button> : null },
        ]} />
      {list.hasMore && <Button onClick={list.more} loading={list.loading}>{t("lc.loadMore")}</Button>}
      <Modal open={open} title={t("lc.fileDocument")} onCancel={() => setOpen(false)}
        footer={open && [
          <Button key="c" onClick={() => setOpen(false)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={file} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          <Form.Item name="type" label={t("lc.docType")} rules={[{ required: true }]}>
            <FormSelect showSearch optionFilterProp="label" data-testid="document-type"
              options={documentTypeOrder(product.stage).map((x) => ({ value: x, label: DOCUMENT_TYPES[x] }))} />
          </Form.Item>
          <Form.Item name="title" label={t("lc.title")} rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
            <Input maxLength={200} data-testid="document-title" />
          </Form.Item>
          <Form.Item name="ref" label={t("lc.ref")} extra={t("lc.refHelp")} rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
            <Input maxLength={500} data-testid="document-ref" />
          </Form.Item>
          {manager && (
            <Form.Item name="approved" valuePropName="checked">
              <Checkbox data-testid="document-approved">{t("lc.approvedAsFiled")}</Checkbox>
            </Form.Item>
          )}
        </Form>
      </Modal>
    </Space>
  );
}

function Decisions({ product, manager, onChange }: { product: Product; manager: boolean; onChange: () => void }) {
  const { t } = useLang();
  const { message } = App.useApp();
  const [items, setItems] = useState<Decision[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const load = useCallback(() => {
    api<Decision[]>("lifecycle", `/v1/products/${product.code}/decisions`).then(setItems, (e) => setError(e.message));
  }, [product.code]);
  useEffect(load, [load]);

  const record = async () => {
    const v = await form.validateFields();
    setBusy(true);
    try {
      await api("lifecycle", `/v1/products/${product.code}/decisions`, {
        method: "POST",
        body: { kind: v.kind, outcome: v.outcome, participants: splitNames(v.participants ?? ""), note: v.note?.trim() || undefined, ref: v.ref?.trim() || undefined },
      });
      message.success(t("lc.saved"));
      setOpen(false);
      load();
      onChange();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {manager && (
        <Button type="primary" data-testid="action-record-decision"
          onClick={() => { form.resetFields(); form.setFieldsValue({ kind: "review", outcome: "approved" }); setOpen(true); }}>
          {t("lc.recordDecision")}
        </Button>
      )}
      {error && <Alert type="error" showIcon message={error} />}
      <Table<Decision> rowKey="id" size="small" loading={items === null && !error} dataSource={items ?? []} pagination={false} scroll={{ x: 600 }}
        columns={[
          { title: t("lc.kind"), dataIndex: "kind_label", width: 100 },
          { title: t("lc.outcome"), dataIndex: "outcome", width: 80,
            render: (v, d) => <Tag color={v === "approved" ? "green" : "red"}>{d.outcome_label}</Tag> },
          { title: t("lc.participants"), dataIndex: "participants", render: (p: string[]) => p.join("、") },
          { title: t("lc.note"), dataIndex: "note" },
          { title: t("lc.by"), dataIndex: "by", width: 100 },
          { title: t("lc.at"), dataIndex: "at", width: 140, render: fmt },
        ]} />
      <Modal open={open} title={t("lc.recordDecision")} onCancel={() => setOpen(false)}
        footer={open && [
          <Button key="c" onClick={() => setOpen(false)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={record} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          <Form.Item name="kind" label={t("lc.kind")}>
            <FormRadioGroup><Radio value="review">{t("lc.review")}</Radio><Radio value="decision_meeting">{t("lc.decisionMeeting")}</Radio></FormRadioGroup>
          </Form.Item>
          <Form.Item name="outcome" label={t("lc.outcome")}>
            <FormRadioGroup><Radio value="approved">{t("lc.approvedOutcome")}</Radio><Radio value="rejected">{t("lc.rejected")}</Radio></FormRadioGroup>
          </Form.Item>
          <Form.Item name="participants" label={t("lc.participants")} extra={t("lc.participantsHelp")}
            rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
            <Input data-testid="decision-participants" />
          </Form.Item>
          <Form.Item name="note" label={t("lc.note")}><Input.TextArea rows={2} maxLength={2000} /></Form.Item>
          <Form.Item name="ref" label={t("lc.ref")}><Input maxLength={500} /></Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}

interface Entry {
  at: string;
  kind: string;
  kind_label: string;
  by?: string | null;
  summary: string;
  id: string;
}

function TimelineTab({ code, version }: { code: string; version: number }) {
  const { t } = useLang();
  const [entries, setEntries] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async (from: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const got = await api<{ entries: Entry[]; next_cursor: string | null }>("lifecycle", `/v1/products/${code}/timeline`, {
        query: { limit: 50, cursor: from ?? undefined },
      });
      setEntries((old) => (from ? [...old, ...got.entries] : got.entries));
      setCursor(got.next_cursor ?? null);
    } catch (e: any) {
      setError(e.message);
    } finally {
      setLoading(false);
    }
  }, [code]);
  useEffect(() => {
    load(null);
  }, [load, version]);
  return (
    <Space direction="vertical" style={{ width: "100%" }} data-testid="product-timeline">
      {error && <Alert type="error" showIcon message={error} />}
      {loading && !entries.length && <Spin />}
      <Timeline items={entries.map((e) => ({
        key: e.id,
        color: e.kind === "transition" ? "blue" : "gray",
        children: (
          <Space direction="vertical" size={0}>
            <Space wrap><Tag>{e.kind_label}</Tag><Typography.Text type="secondary">{fmt(e.at)}{e.by ? ` · ${e.by}` : ""}</Typography.Text></Space>
            <span>{e.summary}</span>
          </Space>
        ),
      }))} />
      {cursor && <Button onClick={() => load(cursor)} loading={loading} data-testid="timeline-more">{t("lc.loadMore")}</Button>}
    </Space>
  );
}

interface TrialView {
  stage: string;
  current: boolean;
  pilot_cities: string[];
  pilot_customers: { name: string; city: string; industry?: string }[];
  tariff: { name: string; ref: string; agreed_with: string } | null;
  evaluation: { conclusion: string; summary: string } | null;
  optimisation_plan: { summary: string } | null;
  summary: { cases?: unknown[]; industry_solutions?: unknown[] } | null;
  trainings: { sessions: unknown[]; trained_cities: string[]; untrained_pilot_cities: string[] };
  feedback: Record<string, number>;
}

type TrialAction = "pilots" | "tariff" | "evaluation";

function Trials({ code, manager, onChange }: { code: string; manager: boolean; onChange: () => void }) {
  const { t, lang } = useLang();
  const { message } = App.useApp();
  const [views, setViews] = useState<Record<string, TrialView | string>>({});
  const [acting, setActing] = useState<{ stage: string; action: TrialAction } | null>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const load = useCallback(() => {
    for (const s of ["trial", "trial_commercial"]) {
      api<TrialView>("lifecycle", `/v1/products/${code}/trials/${s}`).then(
        (v) => setViews((o) => ({ ...o, [s]: v })),
        (e) => setViews((o) => ({ ...o, [s]: e.message })),
      );
    }
  }, [code]);
  useEffect(load, [load]);

  const open = (stage: string, action: TrialAction) => {
    form.resetFields();
    const v = views[stage];
    if (action === "pilots" && typeof v === "object")
      form.setFieldsValue({ cities: v.pilot_cities, customers: v.pilot_customers.map((c) => `${c.name}, ${c.city}`).join("\n") });
    if (action === "evaluation") form.setFieldsValue({ conclusion: "ready" });
    setActing({ stage, action });
  };

  const submit = async () => {
    if (!acting) return;
    const v = await form.validateFields();
    const { stage, action } = acting;
    const path = `/v1/products/${code}/trials/${stage}/${action}`;
    setBusy(true);
    try {
      let got: TrialView;
      if (action === "pilots") got = await api("lifecycle", path, { method: "PUT", body: { cities: v.cities, customers: parseCustomers(v.customers ?? "") } });
      else if (action === "tariff") got = await api("lifecycle", path, { method: "PUT", body: { name: v.name.trim(), ref: v.ref.trim(), agreed_with: "信息化推进室" } });
      else got = await api("lifecycle", path, { method: "POST", body: { conclusion: v.conclusion, summary: v.summary.trim(), evidence: lines(v.evidence), ref: v.ref.trim() } });
      setViews((o) => ({ ...o, [stage]: got }));
      message.success(t("lc.saved"));
      setActing(null);
      onChange();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };
  const required = [{ required: true, whitespace: true, message: t("lc.required") }];
  const titles: Record<TrialAction, string> = { pilots: t("lc.setPilots"), tariff: t("lc.setTariff"), evaluation: t("lc.recordEvaluation") };
  return (
    <Row gutter={[16, 16]}>
      {["trial", "trial_commercial"].map((s) => {
        const v = views[s];
        return (
          <Col xs={24} lg={12} key={s}>
            <Card size="small" data-testid={`trial-${s}`}
              title={<Space>{stageLabel(s, lang)}{typeof v === "object" && v.current && <Tag color="blue">{t("lc.current")}</Tag>}</Space>}>
              {v === undefined ? <Spin /> : typeof v === "string" ? <Alert type="error" showIcon message={v} /> : (
                <Descriptions size="small" column={1}>
                  <Descriptions.Item label={t("lc.pilotCities")}>{v.pilot_cities.join("、") || "—"}</Descriptions.Item>
                  <Descriptions.Item label={t("lc.pilotCustomers")}>{v.pilot_customers.map((c) => `${c.name}（${c.city}）`).join("、") || "—"}</Descriptions.Item>
                  <Descriptions.Item label={t("lc.tariff")}>{v.tariff ? `${v.tariff.name}（${v.tariff.agreed_with}）` : "—"}</Descriptions.Item>
                  <Descriptions.Item label={t("lc.trained")}>{v.trainings.trained_cities.join("、") || "—"}</Descriptions.Item>
                  <Descriptions.Item label={t("lc.untrained")}>
                    {v.trainings.untrained_pilot_cities.length ? v.trainings.untrained_pilot_cities.map((c) => <Tag color="orange" key={c}>{c}</Tag>) : "—"}
                  </Descriptions.Item>
                  <Descriptions.Item label={t("lc.evaluation")}>
                    {v.evaluation ? <Space><Tag color={v.evaluation.conclusion === "ready" ? "green" : "red"}>{v.evaluation.conclusion === "ready" ? t("lc.ready") : t("lc.notReady")}</Tag>{v.evaluation.summary}</Space> : "—"}
                  </Descriptions.Item>
                  <Descriptions.Item label={t("lc.optimisationPlan")}>{v.optimisation_plan?.summary ?? "—"}</Descriptions.Item>
                  {s === "trial_commercial" && (
                    <Descriptions.Item label={t("lc.trialSummary")}>
                      {v.summary ? `${v.summary.cases?.length ?? 0} 个案例，${v.summary.industry_solutions?.length ?? 0} 个行业方案` : "—"}
                    </Descriptions.Item>
                  )}
                  <Descriptions.Item label={t("lc.feedback")}>
                    建议 {v.feedback.suggestion ?? 0} · 投诉 {v.feedback.complaint ?? 0} · 未关闭 {v.feedback.open ?? 0} · 已关闭 {v.feedback.closed ?? 0}
                  </Descriptions.Item>
                </Descriptions>
              )}
              {manager && (
                <Space wrap style={{ marginTop: 8 }}>
                  <Button size="small" onClick={() => open(s, "pilots")} data-testid={`trial-${s}-pilots`}>{t("lc.setPilots")}</Button>
                  <Button size="small" onClick={() => open(s, "tariff")} data-testid={`trial-${s}-tariff`}>{t("lc.setTariff")}</Button>
                  <Button size="small" onClick={() => open(s, "evaluation")} data-testid={`trial-${s}-evaluation`}>{t("lc.recordEvaluation")}</Button>
                </Space>
              )}
            </Card>
          </Col>
        );
      })}
      <Modal open={!!acting} title={acting ? `${stageLabel(acting.stage, lang)} · ${titles[acting.action]}` : ""} onCancel={() => setActing(null)}
        footer={acting && [
          <Button key="c" onClick={() => setActing(null)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={submit} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          {acting?.action === "pilots" && (
            <>
              <Form.Item name="cities" label={t("lc.pilotCities")} rules={[{ required: true, message: t("lc.required") }]}>
                <FormSelect mode="multiple" options={CITIES.map((c) => ({ value: c, label: c }))} data-testid="pilots-cities" />
              </Form.Item>
              <Form.Item name="customers" label={t("lc.pilotCustomers")} extra={t("lc.customersHelp")}>
                <Input.TextArea rows={4} data-testid="pilots-customers" />
              </Form.Item>
            </>
          )}
          {acting?.action === "tariff" && (
            <>
              <Form.Item name="name" label={t("lc.tariff")} rules={required}><Input maxLength={200} data-testid="tariff-name" /></Form.Item>
              <Form.Item name="ref" label={t("lc.ref")} rules={required} extra={`${t("lc.refHelp")} · 信息化推进室`}><Input maxLength={500} data-testid="tariff-ref" /></Form.Item>
            </>
          )}
          {acting?.action === "evaluation" && (
            <>
              <Form.Item name="conclusion" label={t("lc.outcome")}>
                <FormRadioGroup><Radio value="ready">{t("lc.ready")}</Radio><Radio value="not_ready">{t("lc.notReady")}</Radio></FormRadioGroup>
              </Form.Item>
              <Form.Item name="summary" label={t("lc.evaluation")} rules={required}><Input.TextArea rows={3} maxLength={4000} data-testid="evaluation-summary" /></Form.Item>
              <Form.Item name="evidence" label={t("lc.evidence")} extra={t("lc.evidenceHelp")}
                rules={[{ validator: (_, v) => (lines(v).length ? Promise.resolve() : Promise.reject(new Error(t("lc.required")))) }]}>
                <Input.TextArea rows={3} data-testid="evaluation-evidence" />
              </Form.Item>
              <Form.Item name="ref" label={t("lc.ref")} rules={required}><Input maxLength={500} data-testid="evaluation-ref" /></Form.Item>
            </>
          )}
        </Form>
      </Modal>
    </Row>
  );
}

interface Procurement {
  vendor?: string | null;
  next_step?: string | null;
  next_step_label?: string | null;
  steps: { step: string; step_label: string; status: string; status_label: string; at?: string | null; by?: string | null;
    note?: string | null; document?: { title: string; ref: string } | null; vendor?: string | null; amount_cny?: number | null }[];
}

function ProcurementTab({ code, stage, manager }: { code: string; stage: string; manager: boolean }) {
  const { t } = useLang();
  const { message } = App.useApp();
  const [data, setData] = useState<Procurement | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const load = useCallback(() => {
    api<Procurement>("lifecycle", `/v1/products/${code}/procurement`).then(setData, (e) => setError(e.message));
  }, [code]);
  useEffect(load, [load]);

  const record = async () => {
    if (!data?.next_step) return;
    const v = await form.validateFields();
    setBusy(true);
    try {
      const document = v.doc_title?.trim() && v.doc_ref?.trim() ? { title: v.doc_title.trim(), ref: v.doc_ref.trim() } : undefined;
      setData(await api<Procurement>("lifecycle", `/v1/products/${code}/procurement/steps`, {
        method: "POST",
        body: { step: data.next_step, note: v.note?.trim() || undefined, document,
          vendor: data.next_step === "winner_confirmed" ? v.vendor?.trim() : undefined,
          amount_cny: v.amount ? Number(v.amount) : undefined },
      }));
      message.success(t("lc.saved"));
      setOpen(false);
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  if (error) return <Alert type="error" showIcon message={error} />;
  if (!data) return <Spin />;
  const needsDoc = data.next_step === "contract_signed";
  const required = [{ required: true, whitespace: true, message: t("lc.required") }];
  return (
    <Space direction="vertical" style={{ width: "100%" }} data-testid="product-procurement">
      <Space wrap>
        <Typography.Text>{t("lc.nextStep")}：{data.next_step_label ?? "—"} · {t("lc.vendor")}：{data.vendor ?? "—"}</Typography.Text>
        {manager && stage === "initiation" && data.next_step && (
          <Button type="primary" onClick={() => { form.resetFields(); setOpen(true); }} data-testid="action-record-step">
            {t("lc.recordStep")}：{data.next_step_label}
          </Button>
        )}
      </Space>
      <Modal open={open} title={`${t("lc.recordStep")}：${data.next_step_label ?? ""}`} onCancel={() => setOpen(false)}
        footer={open && [
          <Button key="c" onClick={() => setOpen(false)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={record} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          {data.next_step === "winner_confirmed" && (
            <Form.Item name="vendor" label={t("lc.vendor")} rules={required}><Input placeholder="vendor-07" data-testid="step-vendor" /></Form.Item>
          )}
          <Form.Item name="amount" label={t("lc.amount")} rules={[{ pattern: /^\d*$/, message: "0-9" }]}>
            <Input inputMode="numeric" suffix="元" data-testid="step-amount" />
          </Form.Item>
          <Form.Item name="doc_title" label={`${t("lc.document")} · ${t("lc.title")}`} rules={needsDoc ? required : []}>
            <Input maxLength={200} data-testid="step-document-title" />
          </Form.Item>
          <Form.Item name="doc_ref" label={`${t("lc.document")} · ${t("lc.ref")}`} rules={needsDoc ? required : []} extra={t("lc.refHelp")}>
            <Input maxLength={500} data-testid="step-document-ref" />
          </Form.Item>
          <Form.Item name="note" label={t("lc.note")}><Input.TextArea rows={2} /></Form.Item>
        </Form>
      </Modal>
      <Table rowKey="step" size="small" pagination={false} dataSource={data.steps} scroll={{ x: 640 }}
        columns={[
          { title: t("lc.step"), dataIndex: "step_label", width: 110 },
          { title: t("lc.status"), dataIndex: "status", width: 80, render: (v, s) => <Tag color={v === "done" ? "green" : "default"}>{s.status_label}</Tag> },
          { title: t("lc.at"), dataIndex: "at", width: 140, render: fmt },
          { title: t("lc.by"), dataIndex: "by", width: 100 },
          { title: t("lc.document"), dataIndex: "document", render: (d) => (d ? `${d.title}（${d.ref}）` : "") },
          { title: t("lc.vendor"), dataIndex: "vendor", width: 100 },
          { title: t("lc.amount"), dataIndex: "amount_cny", width: 120, render: (v) => (v == null ? "" : yuan(v)) },
          { title: t("lc.note"), dataIndex: "note" },
        ]} />
    </Space>
  );
}

export default function ProductPage() {
  const { code = "" } = useParams();
  const { t } = useLang();
  const { user } = useAuth();
  const [product, setProduct] = useState<Product | null>(null);
  const [gate, setGate] = useState<Gate | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [gateError, setGateError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  const load = useCallback(() => {
    setError(null);
    // A platform has the same stage routes as a product, but is read from the platforms' list.
    api<Product>("lifecycle", `/v1/products/${encodeURIComponent(code)}`).then(setProduct, async (e) => {
      if (e instanceof ApiError && e.status === 404) {
        try {
          const found = (await loadCatalog()).find((x) => x.code === code && x.product_count !== undefined);
          if (found) return setProduct({ product_managers: [], ...found } as Product);
        } catch {
          /* the first error is the one to show */
        }
      }
      setError(e.message);
    });
    api<Gate>("lifecycle", `/v1/products/${encodeURIComponent(code)}/gate`).then(
      (g) => { setGate(g); setGateError(null); },
      (e) => setGateError(e.message),
    );
    setVersion((v) => v + 1);
  }, [code]);
  useEffect(load, [load]);

  if (error) return <Space direction="vertical"><Alert type="error" showIcon message={error} /><Link to="/lifecycle">{t("lc.back")}</Link></Space>;
  if (!product) return <Spin />;
  const manager = mayManage(user, product);

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space wrap align="baseline">
        <Link to="/lifecycle">{t("lc.back")}</Link>
        <Typography.Title level={4} style={{ margin: 0 }} data-testid="product-name">{product.name}</Typography.Title>
        <Typography.Text type="secondary">{product.code}</Typography.Text>
      </Space>
      {gateError && <Alert type="warning" showIcon message={gateError} />}
      <Tabs destroyInactiveTabPane items={[
        { key: "overview", label: t("lc.overview"), children: <Overview product={product} gate={gate} manager={manager} onMoved={load} /> },
        { key: "documents", label: t("lc.documents"), children: <Documents product={product} manager={manager} onChange={load} /> },
        { key: "decisions", label: t("lc.decisions"), children: <Decisions product={product} manager={manager} onChange={load} /> },
        { key: "timeline", label: t("lc.timeline"), children: <TimelineTab code={product.code} version={version} /> },
        { key: "trials", label: t("lc.trials"), children: <Trials code={product.code} manager={manager} onChange={load} /> },
        { key: "procurement", label: t("lc.procurement"), children: <ProcurementTab code={product.code} stage={product.stage} manager={manager} /> },
      ]} />
    </Space>
  );
}
