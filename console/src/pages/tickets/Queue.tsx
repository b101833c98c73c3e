// The work queue (/tickets): 我的工单 (assigned to me) and 团队工单 (all I may see), filters, SLA countdowns,
// cursor paging ("加载更多") and bulk assignment with per-ticket results in words.
import { Alert, App, Button, Card, Checkbox, Col, Form, Input, Modal, Row, Select, Space, Table, Tabs, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useCallback, useEffect, useRef, useState, type HTMLAttributes } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api, ApiError } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { CountdownTag, StatusTag, useNow, useProducts, type Page, type Ticket } from "./common";
import { CITIES, KINDS, KIND_LABELS, STATUSES, STATUS_LABELS, TIER_LABELS, label, mayAct, mayOpen, rowCountdown, summariseBulk } from "./logic";
import "./words";

interface Filters {
  kind?: string;
  status?: string;
  product_code?: string;
  city?: string;
  q?: string;
  breached?: boolean;
  pending?: boolean;
}

const PAGE_SIZE = 20;

export default function Queue() {
  const { user } = useAuth();
  const { t } = useLang();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const now = useNow();
  const products = useProducts();
  const [tab, setTab] = useState<"mine" | "team">(() => (sessionStorage.getItem("ops.tickets.tab") as "mine" | "team") || "team");
  const [filters, setFilters] = useState<Filters>({});
  // the keyword box's text, kept here so that 清除筛选 empties it with the filter it applied (left to itself the
  // box went on showing a word the rows were no longer filtered by)
  const [keywords, setKeywords] = useState("");
  const [items, setItems] = useState<Ticket[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  // antd's table (with scroll.x) copies each column title into a hidden row it measures widths with, the
  // select-all checkbox included, which Tab then reaches unseen: that row is made inert.
  const tableBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    tableBox.current?.querySelectorAll(".ant-table-measure-row").forEach((row) => row.setAttribute("inert", ""));
  });
  const [assignOpen, setAssignOpen] = useState(false);
  const request = useRef(0);

  const query = useCallback(
    (c: string | null) => ({
      ...filters,
      breached: filters.breached || undefined,
      pending: filters.pending || undefined,
      assignee: tab === "mine" ? user?.sub : undefined,
      limit: PAGE_SIZE,
      cursor: c,
    }),
    [filters, tab, user?.sub],
  );

  const load = useCallback(
    async (append: boolean) => {
      const mine = ++request.current;
      setLoading(true);
      setError(null);
      try {
        const page = await api<Page<Ticket>>("ticketing", "/v1/tickets", { query: query(append ? cursor : null) });
        if (mine !== request.current) return;
        setItems((old) => (append ? [...old, ...page.items.filter((i) => !old.some((o) => o.id === i.id))] : page.items));
        setCursor(page.next_cursor);
        if (!append) setSelected([]);
      } catch (e) {
        if (mine === request.current) setError((e as Error).message);
      } finally {
        if (mine === request.current) setLoading(false);
      }
    },
    [query, cursor],
  );

  useEffect(() => {
    load(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filters, tab]);

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));

  const columns: ColumnsType<Ticket> = [
    {
      title: t("tk.id"),
      dataIndex: "id",
      render: (id: string) => (
        <Link to={`/tickets/${encodeURIComponent(id)}`} data-testid={`ticket-link-${id}`}>
          {id}
        </Link>
      ),
    },
    { title: t("tk.kind"), dataIndex: "kind", render: (k: string) => label(KIND_LABELS, k), responsive: ["md"] },
    { title: t("tk.title"), dataIndex: "title", ellipsis: true },
    { title: t("tk.product"), dataIndex: "product_code", responsive: ["lg"] },
    { title: t("tk.city"), dataIndex: "city", responsive: ["md"] },
    { title: t("tk.status"), dataIndex: "status", render: (s: string) => <StatusTag status={s} /> },
    { title: t("tk.tier"), dataIndex: "tier", render: (tier: number) => TIER_LABELS[tier] ?? tier, responsive: ["lg"] },
    { title: t("tk.assignee"), dataIndex: "assignee", render: (a?: string) => a ?? "—", responsive: ["md"] },
    {
      title: t("tk.sla"),
      key: "sla",
      render: (_: unknown, r: Ticket) => {
        const c = rowCountdown(r, now);
        return <CountdownTag countdown={c} prefix={c.which === "respond" ? "响应" : "解决"} testId={`sla-${r.id}`} />;
      },
    },
  ];

  const canAssign = (r: Ticket) => mayAct(user, "assign", r);

  return (
    <Card
      title={t("tickets")}
      extra={
        mayOpen(user) && (
          <Button type="primary" onClick={() => navigate("/tickets/new")} data-testid="new-ticket-button">
            {t("tk.new")}
          </Button>
        )
      }
    >
      <Tabs
        activeKey={tab}
        onChange={(k) => {
          sessionStorage.setItem("ops.tickets.tab", k);
          setTab(k as "mine" | "team");
        }}
        items={[
          { key: "mine", label: <span data-testid="tab-mine">{t("tk.myQueue")}</span> },
          { key: "team", label: <span data-testid="tab-team">{t("tk.teamQueue")}</span> },
        ]}
      />
      <Form layout="vertical">
        <Row gutter={[12, 0]}>
          <Col xs={12} md={8} lg={4}>
            <Form.Item label={t("tk.kind")} htmlFor="filter-kind-input">
              <Select allowClear value={filters.kind} onChange={(v) => set({ kind: v })} id="filter-kind-input" data-testid="filter-kind"
                options={KINDS.map((k) => ({ value: k, label: KIND_LABELS[k] }))} />
            </Form.Item>
          </Col>
          <Col xs={12} md={8} lg={4}>
            <Form.Item label={t("tk.status")} htmlFor="filter-status-input">
              <Select allowClear value={filters.status} onChange={(v) => set({ status: v })} id="filter-status-input" data-testid="filter-status"
                options={STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] }))} />
            </Form.Item>
          </Col>
          <Col xs={12} md={8} lg={4}>
            <Form.Item label={t("tk.product")} htmlFor="filter-product-input">
              <Select allowClear showSearch optionFilterProp="label" value={filters.product_code}
                onChange={(v) => set({ product_code: v })} options={products} id="filter-product-input" data-testid="filter-product" />
            </Form.Item>
          </Col>
          <Col xs={12} md={8} lg={4}>
            <Form.Item label={t("tk.city")} htmlFor="filter-city-input">
              <Select allowClear value={filters.city} onChange={(v) => set({ city: v })} id="filter-city-input" data-testid="filter-city"
                options={CITIES.map((c) => ({ value: c, label: c }))} />
            </Form.Item>
          </Col>
          <Col xs={24} md={8} lg={4}>
            <Form.Item label={t("tk.search")} htmlFor="filter-q-input">
              <Input.Search allowClear value={keywords} onChange={(e) => setKeywords(e.target.value)}
                onSearch={(v) => set({ q: v.trim() || undefined })} id="filter-q-input" data-testid="filter-q" />
            </Form.Item>
          </Col>
          <Col xs={24} md={8} lg={4}>
            <Form.Item label=" ">
              <Space wrap>
                <Checkbox checked={!!filters.breached} onChange={(e) => set({ breached: e.target.checked })} data-testid="filter-breached">
                  {t("tk.breached")}
                </Checkbox>
                <Checkbox checked={!!filters.pending} onChange={(e) => set({ pending: e.target.checked })} data-testid="filter-pending">
                  {t("tk.pending")}
                </Checkbox>
              </Space>
            </Form.Item>
          </Col>
        </Row>
      </Form>
      <Space style={{ marginBottom: 12 }} wrap>
        <Button onClick={() => load(false)} data-testid="queue-refresh">{t("tk.refresh")}</Button>
        <Button
          onClick={() => {
            setFilters({});
            setKeywords("");
          }}
          data-testid="queue-reset"
        >{t("tk.reset")}</Button>
        <Button disabled={!selected.length} onClick={() => setAssignOpen(true)} data-testid="bulk-assign">
          {t("tk.assignTo")}
        </Button>
        {selected.length > 0 && <Typography.Text>{t("tk.selected")} {selected.length}</Typography.Text>}
      </Space>
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} data-testid="queue-error" />}
      <div ref={tableBox}>
      <Table<Ticket>
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={items}
        loading={loading}
        pagination={false}
        scroll={{ x: 760 }}
        data-testid="ticket-table"
        rowSelection={{
          selectedRowKeys: selected,
          onChange: (keys) => setSelected(keys as string[]),
          getCheckboxProps: (r) => ({ disabled: !canAssign(r), "aria-label": `选择 ${r.id}` }) as never,
        }}
        onRow={(r) => ({ "data-testid": `ticket-row-${r.id}` }) as HTMLAttributes<HTMLElement>}
      />
      </div>
      <div style={{ textAlign: "center", marginTop: 12 }}>
        {cursor ? (
          <Button onClick={() => load(true)} loading={loading} data-testid="queue-load-more">{t("tk.loadMore")}</Button>
        ) : (
          items.length > 0 && <Typography.Text type="secondary">{t("tk.noMore")}</Typography.Text>
        )}
      </div>
      {assignOpen && (
        <BulkAssign
          tickets={items.filter((i) => selected.includes(i.id))}
          onClose={(changed) => {
            setAssignOpen(false);
            if (changed) load(false);
          }}
          onDone={(ok) => ok && message.success(`已分派 ${ok} 张工单`)}
        />
      )}
    </Card>
  );
}

function BulkAssign({ tickets, onClose, onDone }: { tickets: Ticket[]; onClose: (changed: boolean) => void; onDone: (ok: number) => void }) {
  const { user } = useAuth();
  const { t } = useLang();
  const [assignee, setAssignee] = useState("");
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState<string[] | null>(null);
  const [changed, setChanged] = useState(false);

  async function submit() {
    if (!assignee.trim()) return;
    setBusy(true);
    const results: { id: string; error?: string }[] = [];
    for (const ticket of tickets) {
      try {
        await api("ticketing", `/v1/tickets/${encodeURIComponent(ticket.id)}/assign`, {
          method: "POST",
          body: { assignee: assignee.trim() },
          headers: { "If-Match": `"${ticket.version}"` },
        });
        results.push({ id: ticket.id });
      } catch (e) {
        results.push({ id: ticket.id, error: e instanceof ApiError ? e.message : String(e) });
      }
    }
    setBusy(false);
    const summary = summariseBulk(results);
    if (summary.ok) setChanged(true);
    onDone(summary.ok);
    if (!summary.failed.length) onClose(true);
    else setFailed(summary.failed);
  }

  return (
    <Modal
      open
      title={`${t("tk.assignTo")}（${tickets.length}）`}
      onCancel={() => onClose(changed)}
      footer={[
        <Button key="c" onClick={() => onClose(changed)}>{t("tk.cancel")}</Button>,
        <Button key="s" type="primary" loading={busy} disabled={!assignee.trim()} onClick={submit} data-testid="dialog-submit">
          {t("tk.submit")}
        </Button>,
      ]}
    >
      <Space direction="vertical" style={{ width: "100%" }}>
        <Typography.Text>{tickets.map((x) => x.id).join("、")}</Typography.Text>
        <Space.Compact style={{ width: "100%" }}>
          <Input
            aria-label={t("tk.assignee")}
            placeholder="处理人账号，如 agent-jinan-07"
            value={assignee}
            onChange={(e) => setAssignee(e.target.value)}
            onPressEnter={submit}
            data-testid="field-assignee"
          />
          {user && <Button onClick={() => setAssignee(user.sub)} data-testid="assign-to-me">分派给我</Button>}
        </Space.Compact>
        {failed && (
          <Alert
            type="error"
            showIcon
            data-testid="bulk-assign-failures"
            message="以下工单分派失败"
            description={<ul style={{ margin: 0, paddingLeft: 18 }}>{failed.map((f) => <li key={f}>{f}</li>)}</ul>}
          />
        )}
        {failed && changed && <Tag color="warning">其余已分派成功</Tag>}
      </Space>
    </Modal>
  );
}
