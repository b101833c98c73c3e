// Daily maintenance (GET /api/lifecycle/v1/maintenance/…): inspection plans with their next due day and overdue
// flag, inspections (newest first), changes with their moves (approve, start, complete, cancel), fault statistics.
import { App, Alert, Button, Checkbox, Col, DatePicker, Form, Input, Modal, Radio, Row, Select, Space, Table, Tabs, Tag } from "antd";
import dayjs from "dayjs";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { productOptions, useCatalog } from "../knowledge/products";
import { usePaged } from "../knowledge/usePaged";
import { CHANGE_ACTION_LABELS, beijingToday, changeActions, changeBody, dueColour } from "./logic";
import "./words";
import { FormRadioGroup, FormSelect } from "../../lib/formControls";

interface Plan {
  id: string;
  target: string;
  name: string;
  interval_label: string;
  active: boolean;
  last_inspection_at: string | null;
  next_due: string | null;
  overdue: boolean;
  checklist: { item: string; expected?: string | null }[];
}

interface Inspection {
  id: string;
  product_code: string;
  plan_id: string;
  plan_name?: string;
  results: { item: string; ok: boolean; value?: string | null }[];
  at: string;
  by: string;
  outcome: string;
  outcome_label?: string;
  summary?: string | null;
}

interface Change {
  id: string;
  product_code: string;
  type_label: string;
  title: string;
  window: { start: string; end: string };
  state: string;
  state_label: string;
  outcome_label?: string | null;
  requested_by: string;
  rollback_plan: string;
}

const fmt = (v?: string | null) => (v ? dayjs(v).format("YYYY-MM-DD HH:mm") : "—");
const target = (code: string) => <Link to={`/lifecycle/${code}`}>{code}</Link>;

function Plans({ target: tgt }: { target?: string }) {
  const { t } = useLang();
  const { has } = useAuth();
  const { message } = App.useApp();
  const [overdue, setOverdue] = useState(false);
  const list = usePaged<Plan>("lifecycle", "/v1/maintenance/inspection-plans", { target: tgt, overdue: overdue || undefined }, 50);
  const today = beijingToday();
  const [plan, setPlan] = useState<Plan | null>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const mayWrite = has("ops_engineer", "product_manager");

  const openInspect = (p: Plan) => {
    form.resetFields();
    form.setFieldsValue({ results: p.checklist.map((c) => ({ item: c.item, ok: true, value: "" })), summary: "" });
    setPlan(p);
  };

  const record = async () => {
    if (!plan) return;
    const v = await form.validateFields();
    setBusy(true);
    try {
      await api("lifecycle", "/v1/maintenance/inspections", {
        method: "POST",
        body: { plan_id: plan.id, summary: v.summary?.trim() || undefined,
          results: (v.results as { item: string; ok: boolean; value?: string }[]).map((r) => ({ item: r.item, ok: !!r.ok, value: r.value?.trim() || undefined })) },
      });
      message.success(t("lc.saved"));
      setPlan(null);
      list.reload();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Checkbox checked={overdue} onChange={(e) => setOverdue(e.target.checked)} data-testid="plans-overdue">{t("lc.onlyOverdue")}</Checkbox>
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Plan> rowKey="id" size="small" loading={list.loading} dataSource={list.items} pagination={false} scroll={{ x: 700 }}
        onRow={(p) => ({ "data-testid": `plan-row-${p.id}` }) as any}
        columns={[
          { title: t("lc.target"), dataIndex: "target", width: 130, render: target },
          { title: t("lc.name"), dataIndex: "name" },
          { title: t("lc.rhythm"), dataIndex: "interval_label", width: 90 },
          { title: t("lc.lastInspection"), dataIndex: "last_inspection_at", width: 140, render: fmt },
          { title: t("lc.nextDue"), dataIndex: "next_due", width: 150,
            render: (v, p) => !p.active ? <Tag>{t("lc.stopped")}</Tag>
              : <Tag color={p.overdue ? "red" : dueColour(v, today, 1)}>{v}{p.overdue ? ` ${t("lc.overdue")}` : ""}</Tag> },
          { title: t("lc.actions"), width: 110,
            render: (_, p) => mayWrite && p.active ? <Button size="small" onClick={() => openInspect(p)} data-testid="action-record-inspection">{t("lc.recordInspection")}</Button> : null },
        ]} />
      {list.hasMore && <Button onClick={list.more} loading={list.loading}>{t("lc.loadMore")}</Button>}
      <Modal open={!!plan} title={`${t("lc.recordInspection")}：${plan?.name ?? ""}`} onCancel={() => setPlan(null)} width={640}
        footer={plan && [
          <Button key="c" onClick={() => setPlan(null)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={record} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          <Form.List name="results">
            {(fields) => fields.map((f) => (
              <Row key={f.key} gutter={8} align="middle">
                <Col flex="auto">
                  <Form.Item name={[f.name, "item"]} style={{ marginBottom: 8 }}><Input readOnly variant="borderless" /></Form.Item>
                </Col>
                <Col>
                  <Form.Item name={[f.name, "ok"]} valuePropName="checked" style={{ marginBottom: 8 }}>
                    <Checkbox data-testid={`inspection-ok-${f.name}`}>{t("lc.ok")}</Checkbox>
                  </Form.Item>
                </Col>
                <Col span={8}>
                  <Form.Item name={[f.name, "value"]} style={{ marginBottom: 8 }}><Input placeholder={t("lc.value")} /></Form.Item>
                </Col>
              </Row>
            ))}
          </Form.List>
          <Form.Item name="summary" label={t("lc.summary")}><Input.TextArea rows={2} /></Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}

function Inspections({ target: tgt }: { target?: string }) {
  const { t } = useLang();
  const list = usePaged<Inspection>("lifecycle", "/v1/maintenance/inspections", { target: tgt }, 50);
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Inspection> rowKey="id" size="small" loading={list.loading} dataSource={list.items} pagination={false} scroll={{ x: 600 }}
        columns={[
          { title: t("lc.at"), dataIndex: "at", width: 140, render: fmt },
          { title: t("lc.target"), dataIndex: "product_code", width: 130, render: target },
          { title: t("lc.name"), dataIndex: "plan_name", width: 160 },
          { title: t("lc.inspectOutcome"), dataIndex: "outcome", width: 90,
            render: (v, i) => <Tag color={v === "normal" ? "green" : "red"}>{i.outcome_label ?? (v === "normal" ? t("lc.normal") : t("lc.abnormal"))}</Tag> },
          { title: t("lc.summary"), dataIndex: "summary",
            render: (v, i) => v ?? i.results.filter((r) => !r.ok).map((r) => `✗ ${r.item}${r.value ? `（${r.value}）` : ""}`).join("；") },
          { title: t("lc.by"), dataIndex: "by", width: 100 },
        ]} />
      {list.hasMore && <Button onClick={list.more} loading={list.loading}>{t("lc.loadMore")}</Button>}
    </Space>
  );
}

function Changes({ target: tgt }: { target?: string }) {
  const { t } = useLang();
  const { has } = useAuth();
  const { message } = App.useApp();
  const [state, setState] = useState<string | undefined>();
  const list = usePaged<Change>("lifecycle", "/v1/maintenance/changes", { target: tgt, state }, 50);
  const [acting, setActing] = useState<{ change: Change; action: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();
  const outcome = Form.useWatch("outcome", form);
  const mayAct = has("ops_engineer", "product_manager");
  const { entries } = useCatalog();
  const [planning, setPlanning] = useState(false);
  const [planForm] = Form.useForm();

  const plan = async () => {
    const v = await planForm.validateFields();
    setBusy(true);
    try {
      const made = await api<{ overlapping?: unknown[] }>("lifecycle", "/v1/maintenance/changes", {
        method: "POST",
        body: { target: v.target, type: v.type, title: v.title.trim(), rollback_plan: v.rollback_plan.trim(),
          impact: v.impact?.trim() || undefined, version: v.version?.trim() || undefined,
          window: { start: v.window[0].format(), end: v.window[1].format() } },
      });
      if (made.overlapping?.length) message.warning(`${t("lc.saved")}：${t("lc.overlapWarning")}（${made.overlapping.length}）`);
      else message.success(t("lc.saved"));
      setPlanning(false);
      list.reload();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  const submit = async () => {
    if (!acting) return;
    const v = await form.validateFields();
    setBusy(true);
    try {
      await api("lifecycle", `/v1/maintenance/changes/${encodeURIComponent(acting.change.id)}/${acting.action}`, {
        method: "POST", body: changeBody(acting.action, v),
      });
      message.success(CHANGE_ACTION_LABELS[acting.action]);
      setActing(null);
      list.reload();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space wrap>
      {mayAct && (
        <Button type="primary" data-testid="action-plan-change"
          onClick={() => { planForm.resetFields(); planForm.setFieldsValue({ target: tgt, type: "upgrade" }); setPlanning(true); }}>
          {t("lc.planChange")}
        </Button>
      )}
      <Select aria-label={t("lc.changeState")} allowClear placeholder={t("lc.changeState")} style={{ width: 160 }} value={state} onChange={setState}
        data-testid="changes-state"
        options={[["planned", "待审批"], ["approved", "已批准"], ["in_progress", "实施中"], ["done", "已完成"], ["cancelled", "已取消"]].map(([value, label]) => ({ value, label }))} />
      </Space>
      <Modal open={planning} title={t("lc.planChange")} onCancel={() => setPlanning(false)} width={640}
        footer={planning && [
          <Button key="c" onClick={() => setPlanning(false)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={plan} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={planForm} layout="vertical">
          <Form.Item name="target" label={t("lc.target")} rules={[{ required: true, message: t("lc.required") }]}>
            <FormSelect showSearch optionFilterProp="label" options={productOptions(entries)} data-testid="change-target" />
          </Form.Item>
          <Form.Item name="type" label={t("lc.changeType")}>
            <FormRadioGroup>
              <Radio value="upgrade">版本升级</Radio><Radio value="cutover">割接</Radio><Radio value="config">配置</Radio><Radio value="other">其他</Radio>
            </FormRadioGroup>
          </Form.Item>
          <Form.Item name="title" label={t("lc.title")} rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
            <Input maxLength={200} data-testid="change-title" />
          </Form.Item>
          <Form.Item name="window" label={t("lc.window")} rules={[{ required: true, message: t("lc.required") }]}>
            <DatePicker.RangePicker showTime={{ format: "HH:mm" }} format="YYYY-MM-DD HH:mm" style={{ width: "100%" }} data-testid="change-window" />
          </Form.Item>
          <Form.Item name="rollback_plan" label={t("lc.rollback")} rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
            <Input.TextArea rows={2} data-testid="change-rollback" />
          </Form.Item>
          <Form.Item name="impact" label={t("lc.impact")}><Input /></Form.Item>
          <Form.Item name="version" label={t("lc.version")}><Input /></Form.Item>
        </Form>
      </Modal>
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Change> rowKey="id" size="small" loading={list.loading} dataSource={list.items} pagination={false} scroll={{ x: 860 }}
        onRow={(c) => ({ "data-testid": `change-row-${c.id}` }) as any}
        columns={[
          { title: t("lc.target"), dataIndex: "product_code", width: 120, render: target },
          { title: t("lc.changeType"), dataIndex: "type_label", width: 90 },
          { title: t("lc.title"), dataIndex: "title" },
          { title: t("lc.window"), dataIndex: "window", width: 220, render: (w) => `${fmt(w.start)} – ${dayjs(w.end).format("MM-DD HH:mm")}` },
          { title: t("lc.changeState"), dataIndex: "state", width: 110,
            render: (_, c) => <Space size={2}><Tag>{c.state_label}</Tag>{c.outcome_label && <Tag color={c.outcome_label === "成功" ? "green" : "red"}>{c.outcome_label}</Tag>}</Space> },
          { title: t("lc.requestedBy"), dataIndex: "requested_by", width: 100 },
          { title: t("lc.actions"), width: 200,
            render: (_, c) => mayAct ? (
              <Space wrap size={4}>
                {changeActions(c.state).filter((a) => a !== "approve" || has("product_manager")).map((a) => (
                  <Button key={a} size="small" danger={a === "cancel"} data-testid={`change-${a}`}
                    onClick={() => { form.resetFields(); form.setFieldsValue({ outcome: "success" }); setActing({ change: c, action: a }); }}>
                    {CHANGE_ACTION_LABELS[a]}
                  </Button>
                ))}
              </Space>
            ) : null },
        ]} />
      {list.hasMore && <Button onClick={list.more} loading={list.loading}>{t("lc.loadMore")}</Button>}
      <Modal open={!!acting} title={acting ? `${CHANGE_ACTION_LABELS[acting.action]}：${acting.change.title}` : ""} onCancel={() => setActing(null)}
        footer={acting && [
          <Button key="c" onClick={() => setActing(null)}>{t("lc.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={submit} data-testid="dialog-submit">{t("lc.submit")}</Button>,
        ]}>
        <Form form={form} layout="vertical">
          {acting?.action === "cancel" && (
            <Form.Item name="reason" label={t("lc.reason")} rules={[{ required: true, whitespace: true, message: t("lc.required") }]}>
              <Input.TextArea rows={2} maxLength={2000} />
            </Form.Item>
          )}
          {acting?.action === "complete" && (
            <>
              <Form.Item name="outcome" label={t("lc.outcome")}>
                <FormRadioGroup>
                  <Radio value="success">{t("lc.success")}</Radio>
                  <Radio value="rolled_back">{t("lc.rolledBack")}</Radio>
                  <Radio value="failed">{t("lc.failed")}</Radio>
                </FormRadioGroup>
              </Form.Item>
              <Form.Item name="notes" label={t("lc.notes")}
                rules={outcome && outcome !== "success" ? [{ required: true, whitespace: true, message: t("lc.required") }] : []}>
                <Input.TextArea rows={3} maxLength={4000} />
              </Form.Item>
            </>
          )}
          {(acting?.action === "approve" || acting?.action === "start") && (
            <Form.Item name="note" label={t("lc.note")}><Input.TextArea rows={2} maxLength={2000} /></Form.Item>
          )}
        </Form>
      </Modal>
    </Space>
  );
}

interface FaultRow {
  code: string;
  name?: string;
  total: number;
  by_severity: Record<string, number>;
  open: number;
  restored: number;
  mean_restore_hours: number | null;
  within_sla_rate: number | null;
}

function Faults({ target: tgt }: { target?: string }) {
  const { t } = useLang();
  const [data, setData] = useState<{ products: FaultRow[]; platforms: FaultRow[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    api("lifecycle", "/v1/maintenance/faults", { query: { target: tgt } }).then(setData, (e) => setError(e.message));
  }, [tgt]);
  const columns = [
    { title: t("lc.target"), dataIndex: "code", width: 140, render: (c: string, r: FaultRow) => <Link to={`/lifecycle/${c}`}>{r.name ?? c}</Link> },
    { title: t("lc.total"), dataIndex: "total", width: 80 },
    { title: "1/2/3级", dataIndex: "by_severity", width: 100, render: (s: Record<string, number>) => `${s["1"] ?? 0}/${s["2"] ?? 0}/${s["3"] ?? 0}` },
    { title: t("lc.open"), dataIndex: "open", width: 80 },
    { title: t("lc.restored"), dataIndex: "restored", width: 80 },
    { title: t("lc.meanRestore"), dataIndex: "mean_restore_hours", width: 140, render: (v: number | null) => (v == null ? "—" : v.toFixed(1)) },
    { title: t("lc.withinSla"), dataIndex: "within_sla_rate", width: 110, render: (v: number | null) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`) },
  ];
  if (error) return <Alert type="error" showIcon message={error} />;
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Table rowKey="code" size="small" title={() => t("lc.platforms")} loading={!data} dataSource={data?.platforms ?? []} columns={columns} pagination={false} scroll={{ x: 700 }} />
      <Table rowKey="code" size="small" title={() => t("lc.products")} loading={!data} dataSource={data?.products ?? []} columns={columns} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 700 }} />
    </Space>
  );
}

export default function Maintenance() {
  const { t } = useLang();
  const { entries } = useCatalog();
  const [tgt, setTgt] = useState<string | undefined>();
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Row gutter={8}>
        <Col xs={24} sm={12} md={8}>
          <Select aria-label={t("lc.target")} style={{ width: "100%" }} allowClear showSearch optionFilterProp="label" placeholder={t("lc.allTargets")}
            value={tgt} onChange={setTgt} options={productOptions(entries)} data-testid="maintenance-target" />
        </Col>
      </Row>
      <Tabs destroyInactiveTabPane items={[
        { key: "plans", label: t("lc.inspectionPlans"), children: <Plans target={tgt} /> },
        { key: "inspections", label: t("lc.inspections"), children: <Inspections target={tgt} /> },
        { key: "changes", label: t("lc.changes"), children: <Changes target={tgt} /> },
        { key: "faults", label: t("lc.faults"), children: <Faults target={tgt} /> },
      ]} />
    </Space>
  );
}
