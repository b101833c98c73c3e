// 运营看板: timeliness and satisfaction, volumes by city (ECharts), trends, breakdowns, sudden changes to review and
// the monthly report downloads, all from the analytics service (docs/analytics.md). Every answer's `as_of`/`lag`
// is shown, so that nobody reads a figure that is still being counted as final.
import { DownloadOutlined, ReloadOutlined } from "@ant-design/icons";
import {
  Alert,
  App as AntApp,
  Button,
  Card,
  Col,
  DatePicker,
  Form,
  Input,
  Modal,
  Result,
  Row,
  Select,
  Space,
  Statistic,
  Table,
  Tag,
  Tooltip,
  Typography,
} from "antd";
import dayjs, { type Dayjs } from "dayjs";
import ReactECharts from "echarts-for-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, ApiError, getToken, url } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import {
  anomalyActions,
  canReadAnomalies,
  canReadMetrics,
  canReadReports,
  CITIES,
  cityBars,
  cleanFilters,
  DIMENSIONS,
  dispositionFilename,
  formatCount,
  formatHours,
  formatMetric,
  formatRate,
  FRESH_COLOR,
  freshness,
  INTERVALS,
  KINDS,
  lastDays,
  METRICS,
  rateColor,
  recentMonths,
  reportProduct,
  type Lag,
} from "./logic";
import "./words";

type Filters = Record<string, string>;

interface Fresh {
  as_of: string | null;
  lag: Lag;
}

interface Figures {
  count: number;
  opened: number;
  resolved: number;
  closed: number;
  backlog: number;
  merged: number; // duplicates merged into another ticket (合并), in no other figure (docs/analytics.md)
  timeliness_rate: { response: number | null; resolution: number | null };
  satisfaction_rate: number | null;
  resolution_hours: { avg: number | null; p90: number | null };
  reopen_rate: number | null;
  escalation_rate: { tier2: number | null; tier3: number | null };
}

type Summary = Figures & Fresh;
interface BreakdownItem extends Figures {
  key: string | null;
  label: string;
}
interface Breakdown extends Fresh {
  items: BreakdownItem[];
}
interface Timeseries extends Fresh {
  points: { start: string; end: string; value: number | null }[];
}

interface Anomaly {
  id: string;
  dimension: "product_code" | "city";
  dimension_label: string;
  key: string;
  direction: "spike" | "drop";
  direction_label: string;
  state: "open" | "acknowledged" | "explained";
  state_label: string;
  ongoing: boolean;
  version: number;
  start_day: string;
  last_day: string;
  peak: { day: string; count: number; baseline: number | null };
  explanation?: string | null;
}

/** GET one analytics route whenever `path` or `query` change; errors in words. */
function useAnalytics<T>(path: string, query: Filters, tick: number) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const key = path + JSON.stringify(query);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    api<T>("analytics", path, { query })
      .then((d) => live && setData(d))
      .catch((e: Error) => live && (setError(e.message), setData(null)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, tick]);
  return { data, error, loading };
}

function Freshness({ fresh, id = "" }: { fresh: Fresh | null; id?: string }) {
  const { t } = useLang();
  if (!fresh) return null;
  const level = freshness(fresh.as_of, fresh.lag);
  const lag = t("dash.lag")
    .replace("{q}", String(fresh.lag?.queued_events ?? "—"))
    .replace("{p}", String(fresh.lag?.pending_tickets ?? 0));
  return (
    <Space size={4} wrap data-testid={`${id}freshness`}>
      <Tooltip title={lag}>
        <Tag color={FRESH_COLOR[level]} data-testid={`${id}freshness-${level}`}>
          {t(`dash.fresh.${level}`)}
        </Tag>
      </Tooltip>
      <Typography.Text type="secondary" data-testid={`${id}as-of`}>
        {t("dash.asOf")}：{fresh.as_of ? dayjs(fresh.as_of).format("YYYY-MM-DD HH:mm:ss") : t("dash.noData")}
      </Typography.Text>
    </Space>
  );
}

function Kpi({ testid, title, tooltip, value, color, loading }: { testid: string; title: string; tooltip?: string; value: string; color?: string; loading: boolean }) {
  return (
    <Card size="small" data-testid={testid}>
      <Statistic title={tooltip ? <Tooltip title={tooltip}>{title}</Tooltip> : title} value={value} loading={loading}
        valueStyle={color ? { color } : undefined} />
    </Card>
  );
}

function KpiCards({ summary, loading }: { summary: Summary | null; loading: boolean }) {
  const { t } = useLang();
  const s = summary;
  const cols = { flex: "1 1 140px" } as const; // nine cards: one row when there is room, wrapped otherwise
  return (
    <Row gutter={[12, 12]}>
      <Col {...cols}>
        <Kpi testid="kpi-timeliness" title={t("dash.timeliness")} loading={loading}
          value={formatRate(s?.timeliness_rate.resolution)} color={rateColor(s?.timeliness_rate.resolution)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-response-timeliness" title={t("dash.responseTimeliness")} loading={loading}
          value={formatRate(s?.timeliness_rate.response)} color={rateColor(s?.timeliness_rate.response)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-satisfaction" title={t("dash.satisfaction")} loading={loading}
          value={formatRate(s?.satisfaction_rate)} color={rateColor(s?.satisfaction_rate, 0.9)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-opened" title={t("dash.opened")} loading={loading} value={formatCount(s?.opened)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-merged" title={t("dash.merged")} tooltip={t("dash.mergedHint")} loading={loading} value={formatCount(s?.merged)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-resolved" title={t("dash.resolved")} loading={loading} value={formatCount(s?.resolved)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-closed" title={t("dash.closed")} loading={loading} value={formatCount(s?.closed)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-backlog" title={t("dash.backlog")} loading={loading} value={formatCount(s?.backlog)} />
      </Col>
      <Col {...cols}>
        <Kpi testid="kpi-hours-p90" title={t("dash.hoursP90")} loading={loading} value={formatHours(s?.resolution_hours.p90)} />
      </Col>
    </Row>
  );
}

function CityChart({ filters, tick }: { filters: Filters; tick: number }) {
  const { t } = useLang();
  const { data, error, loading } = useAnalytics<Breakdown>("/v1/metrics/breakdown", { ...filters, dimension: "city" }, tick);
  const bars = useMemo(() => cityBars(data?.items ?? []), [data]);
  const option = {
    tooltip: { trigger: "axis" },
    legend: { data: [t("dash.opened"), t("dash.resolved"), t("dash.closed")] },
    grid: { left: 40, right: 16, bottom: 48, top: 40 },
    xAxis: { type: "category", data: bars.cities, axisLabel: { interval: 0, rotate: 40 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: t("dash.opened"), type: "bar", data: bars.opened },
      { name: t("dash.resolved"), type: "bar", data: bars.resolved },
      { name: t("dash.closed"), type: "bar", data: bars.closed },
    ],
  };
  return (
    <Card size="small" title={t("dash.byCity")} extra={<Freshness fresh={data} id="chart-city-" />}>
      {error && <Alert type="error" showIcon message={error} data-testid="chart-city-error" />}
      <div data-testid="chart-city" role="img" aria-label={t("dash.byCity")}>
        <ReactECharts option={option} showLoading={loading} notMerge style={{ height: 320, width: "100%" }} />
      </div>
    </Card>
  );
}

function TrendChart({ filters, tick }: { filters: Filters; tick: number }) {
  const { t } = useLang();
  const [metric, setMetric] = useState<string>("opened");
  const [interval, setInterval] = useState<string>("day");
  const { data, error, loading } = useAnalytics<Timeseries>("/v1/metrics/timeseries", { ...filters, metric, interval }, tick);
  const points = data?.points ?? [];
  const isRate = formatMetric(metric, 1).endsWith("%");
  const option = {
    tooltip: { trigger: "axis", valueFormatter: (v: number | null) => formatMetric(metric, v) },
    grid: { left: 48, right: 16, bottom: 32, top: 24 },
    xAxis: { type: "category", data: points.map((p) => p.start) },
    yAxis: isRate
      ? { type: "value", min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } }
      : { type: "value", minInterval: metric.startsWith("resolution_hours") ? 0 : 1 },
    series: [{ name: t(`dash.m.${metric}`), type: "line", connectNulls: false, data: points.map((p) => p.value) }],
  };
  return (
    <Card
      size="small"
      title={t("dash.trend")}
      extra={
        <Space wrap>
          <Select aria-label={t("dash.metric")} data-testid="trend-metric" value={metric} onChange={setMetric} style={{ width: 150 }}
            options={METRICS.map((m) => ({ value: m, label: t(`dash.m.${m}`) }))} />
          <Select aria-label={t("dash.interval")} data-testid="trend-interval" value={interval} onChange={setInterval} style={{ width: 90 }}
            options={INTERVALS.map((i) => ({ value: i, label: t(`dash.interval.${i}`) }))} />
        </Space>
      }
    >
      {error && <Alert type="error" showIcon message={error} data-testid="chart-trend-error" />}
      <div data-testid="chart-trend" role="img" aria-label={t("dash.trend")}>
        <ReactECharts option={option} showLoading={loading} notMerge style={{ height: 280, width: "100%" }} />
      </div>
    </Card>
  );
}

function BreakdownTable({ filters, tick }: { filters: Filters; tick: number }) {
  const { t } = useLang();
  const [dimension, setDimension] = useState<string>("kind");
  const { data, error, loading } = useAnalytics<Breakdown>("/v1/metrics/breakdown", { ...filters, dimension }, tick);
  return (
    <Card
      size="small"
      title={t("dash.breakdown")}
      extra={
        <Select aria-label={t("dash.dimension")} data-testid="breakdown-dimension" value={dimension} onChange={setDimension}
          style={{ width: 120 }} options={DIMENSIONS.map((d) => ({ value: d, label: t(`dash.dim.${d}`) }))} />
      }
    >
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 8 }} />}
      <Table<BreakdownItem>
        data-testid="breakdown-table"
        size="small"
        loading={loading}
        rowKey={(r) => r.key ?? "none"}
        dataSource={data?.items ?? []}
        pagination={{ pageSize: 10, hideOnSinglePage: true }}
        scroll={{ x: 720 }}
        columns={[
          { title: t(`dash.dim.${dimension}`), dataIndex: "label", fixed: "left" },
          { title: t("dash.opened"), dataIndex: "opened", align: "right" },
          { title: t("dash.merged"), dataIndex: "merged", align: "right" },
          { title: t("dash.resolved"), dataIndex: "resolved", align: "right" },
          { title: t("dash.closed"), dataIndex: "closed", align: "right" },
          { title: t("dash.backlog"), dataIndex: "backlog", align: "right" },
          { title: t("dash.timeliness"), align: "right", render: (_, r) => formatRate(r.timeliness_rate.resolution) },
          { title: t("dash.satisfaction"), align: "right", render: (_, r) => formatRate(r.satisfaction_rate) },
          { title: t("dash.reopenRate"), align: "right", render: (_, r) => formatRate(r.reopen_rate) },
          { title: t("dash.hoursAvg"), align: "right", render: (_, r) => formatHours(r.resolution_hours.avg) },
        ]}
      />
    </Card>
  );
}

function Anomalies({ tick }: { tick: number }) {
  const { t } = useLang();
  const { user } = useAuth();
  const { message } = AntApp.useApp();
  const [state, setState] = useState<string | undefined>("open");
  const [items, setItems] = useState<Anomaly[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [explaining, setExplaining] = useState<Anomaly | null>(null);
  const [form] = Form.useForm<{ explanation: string }>();

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      setError(null);
      try {
        const page = await api<{ items: Anomaly[]; next_cursor: string | null }>("analytics", "/v1/anomalies", {
          query: { state, limit: 20, cursor: after ?? undefined },
        });
        setItems((old) => (after ? [...old, ...page.items] : page.items));
        setCursor(page.next_cursor);
      } catch (e) {
        setError((e as Error).message);
      } finally {
        setLoading(false);
      }
    },
    [state],
  );
  useEffect(() => {
    load(null);
  }, [load, tick]);

  async function review(anomaly: Anomaly, action: "acknowledge" | "explain", body: object) {
    setBusy(anomaly.id);
    try {
      const updated = await api<Anomaly>("analytics", `/v1/anomalies/${encodeURIComponent(anomaly.id)}/${action}`, {
        method: "POST",
        body,
        headers: { "If-Match": `"${anomaly.version}"` },
      });
      setItems((old) => old.map((a) => (a.id === updated.id ? updated : a)));
      message.success(t("dash.anomaly.done"));
      return true;
    } catch (e) {
      message.error((e as Error).message);
      if (e instanceof ApiError && e.status === 412) load(null); // someone (or the scan) changed it: read again
      return false;
    } finally {
      setBusy(null);
    }
  }

  return (
    <Card
      size="small"
      title={t("dash.anomalies")}
      extra={
        <Select aria-label={t("dash.anomaly.state")} data-testid="anomaly-state" allowClear placeholder={t("dash.anomaly.all")}
          value={state} onChange={setState} style={{ width: 120 }}
          options={["open", "acknowledged", "explained"].map((s) => ({ value: s, label: t(`dash.anomaly.${s}`) }))} />
      }
    >
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 8 }} data-testid="anomalies-error" />}
      <Table<Anomaly>
        data-testid="anomalies-table"
        size="small"
        loading={loading}
        rowKey="id"
        dataSource={items}
        pagination={false}
        scroll={{ x: 720 }}
        locale={{ emptyText: t("dash.anomaly.none") }}
        columns={[
          { title: t("dash.anomaly.what"), render: (_, a) => `${a.dimension_label}：${a.key}` },
          {
            title: t("dash.anomaly.direction"),
            render: (_, a) => <Tag color={a.direction === "spike" ? "red" : "blue"}>{a.direction_label}</Tag>,
          },
          {
            title: t("dash.anomaly.days"),
            render: (_, a) => (
              <span>
                {a.start_day}
                {a.last_day !== a.start_day ? ` ~ ${a.last_day}` : ""} {a.ongoing && <Tag>{t("dash.anomaly.ongoing")}</Tag>}
              </span>
            ),
          },
          {
            title: t("dash.anomaly.peak"),
            align: "right",
            render: (_, a) => `${a.peak.count} / ${a.peak.baseline ?? "—"}`,
          },
          {
            title: t("dash.anomaly.state"),
            render: (_, a) => (
              <Tooltip title={a.explanation ?? undefined}>
                <Tag data-testid={`anomaly-state-${a.id}`}>{a.state_label}</Tag>
              </Tooltip>
            ),
          },
          {
            title: t("dash.anomaly.actions"),
            render: (_, a) => {
              const allowed = anomalyActions(user, a);
              return (
                <Space>
                  {allowed.includes("acknowledge") && (
                    <Button size="small" data-testid={`anomaly-acknowledge-${a.id}`} loading={busy === a.id}
                      onClick={() => review(a, "acknowledge", {})}>
                      {t("dash.anomaly.acknowledge")}
                    </Button>
                  )}
                  {allowed.includes("explain") && (
                    <Button size="small" data-testid={`anomaly-explain-${a.id}`}
                      onClick={() => { form.setFieldsValue({ explanation: a.explanation ?? "" }); setExplaining(a); }}>
                      {t("dash.anomaly.explain")}
                    </Button>
                  )}
                </Space>
              );
            },
          },
        ]}
      />
      {cursor && (
        <div style={{ textAlign: "center", marginTop: 8 }}>
          <Button data-testid="anomalies-load-more" loading={loading} onClick={() => load(cursor)}>
            {t("dash.loadMore")}
          </Button>
        </div>
      )}
      <Modal
        open={!!explaining}
        title={`${t("dash.anomaly.explain")}：${explaining?.dimension_label ?? ""} ${explaining?.key ?? ""}`}
        okText={t("dash.anomaly.explain")}
        okButtonProps={{ "data-testid": "anomaly-explain-submit" } as Record<`data-${string}`, string>}
        confirmLoading={!!explaining && busy === explaining.id}
        onCancel={() => setExplaining(null)}
        onOk={async () => {
          const values = await form.validateFields();
          if (explaining && (await review(explaining, "explain", { explanation: values.explanation.trim() }))) setExplaining(null);
        }}
        destroyOnHidden
      >
        <Form form={form} layout="vertical" preserve={false}>
          <Form.Item name="explanation" label={t("dash.anomaly.explanation")}
            rules={[{ required: true, whitespace: true, message: t("dash.anomaly.explainHint") }, { max: 500 }]}>
            <Input.TextArea rows={3} placeholder={t("dash.anomaly.explainHint")} aria-label={t("dash.anomaly.explanation")}
              data-testid="anomaly-explanation" />
          </Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}

function Reports({ product }: { product?: string }) {
  const { t } = useLang();
  const { user } = useAuth();
  const { message } = AntApp.useApp();
  const months = useMemo(() => recentMonths(new Date(), 13), []);
  const [month, setMonth] = useState(months[1]); // last month: the complete one
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function download() {
    setBusy(true);
    setError(null);
    try {
      const productCode = reportProduct(user, product);
      const href = url("analytics", `/v1/reports/monthly/${month}`, { format: "xlsx", product_code: productCode });
      let response: Response;
      try {
        response = await fetch(href, { headers: { Authorization: `Bearer ${getToken() ?? ""}` } });
      } catch {
        throw new ApiError(0, { title: "无法连接服务，请检查网络" });
      }
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        if (response.status === 401) window.dispatchEvent(new Event("ops:unauthorized"));
        throw new ApiError(response.status, problem);
      }
      const blob = await response.blob();
      const name = dispositionFilename(response.headers.get("Content-Disposition"), `monthly-report-${month}.xlsx`);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      message.success(`${t("dash.downloaded")}：${name}`);
    } catch (e) {
      setError((e as Error).message);
      message.error((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card size="small" title={t("dash.reports")}>
      <Typography.Paragraph type="secondary">{t("dash.reportHint")}</Typography.Paragraph>
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 8 }} data-testid="report-error" />}
      <Space wrap>
        <Select aria-label={t("dash.month")} data-testid="report-month" value={month} onChange={setMonth} style={{ width: 120 }}
          options={months.map((m) => ({ value: m, label: m }))} />
        <Button type="primary" icon={<DownloadOutlined />} loading={busy} onClick={download} data-testid="report-download">
          {t("dash.download")}
        </Button>
      </Space>
    </Card>
  );
}

/** 运营看板, for the roles that read analytics' metrics (vendors and intake channels are refused). */
export default function Dashboard() {
  const { t } = useLang();
  const { user } = useAuth();
  if (!canReadMetrics(user)) return <Result status="403" title={t("dash.title")} subTitle={t("dash.forbidden")} data-testid="dashboard-forbidden" />;
  return <DashboardBody />;
}

function DashboardBody() {
  const { t } = useLang();
  const { user } = useAuth();
  const initial = useMemo(() => lastDays(new Date(), 30), []);
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs(initial.from), dayjs(initial.to)]);
  const [city, setCity] = useState<string | undefined>(undefined);
  const [kind, setKind] = useState<string | undefined>(undefined);
  const [product, setProduct] = useState<string>("");
  const [tick, setTick] = useState(0);
  const filters = useMemo(
    // The picker's last day is included; analytics' `to` is exclusive (docs/analytics.md): ask up to the next day.
    () => cleanFilters({ from: range[0].format("YYYY-MM-DD"), to: range[1].add(1, "day").format("YYYY-MM-DD"), city, kind, product_code: product.trim() }),
    [range, city, kind, product],
  );
  const summary = useAnalytics<Summary>("/v1/metrics/summary", filters, tick);

  return (
    <Space direction="vertical" size={12} style={{ width: "100%" }} data-testid="dashboard">
      <Row justify="space-between" align="middle" gutter={[8, 8]}>
        <Col>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {t("dash.title")}
          </Typography.Title>
        </Col>
        <Col>
          <Freshness fresh={summary.data} />
        </Col>
      </Row>
      <Card size="small">
        <Row gutter={[8, 8]} align="middle">
          <Col xs={24} md={10} lg={8}>
            <DatePicker.RangePicker
              aria-label={t("dash.period")}
              data-testid="filter-period"
              value={range}
              allowClear={false}
              style={{ width: "100%" }}
              disabledDate={(d) => d.isAfter(dayjs(), "day")}
              onChange={(v) => v && v[0] && v[1] && setRange([v[0], v[1]])}
            />
          </Col>
          <Col xs={12} md={5} lg={4}>
            <Select aria-label={t("dash.city")} data-testid="filter-city" allowClear placeholder={t("dash.allCities")}
              value={user?.roles.includes("account_manager") && user.city ? user.city : city}
              disabled={!!(user?.roles.includes("account_manager") && user.city)}
              onChange={setCity} style={{ width: "100%" }} options={CITIES.map((c) => ({ value: c, label: c }))} />
          </Col>
          <Col xs={12} md={5} lg={4}>
            <Select aria-label={t("dash.kind")} data-testid="filter-kind" allowClear placeholder={t("dash.allKinds")} value={kind}
              onChange={setKind} style={{ width: "100%" }} options={KINDS.map((k) => ({ value: k, label: t(`dash.kind.${k}`) }))} />
          </Col>
          <Col xs={18} md={8} lg={5}>
            <Input aria-label={t("dash.product")} data-testid="filter-product" placeholder={t("dash.product")} allowClear
              value={product} onChange={(e) => setProduct(e.target.value)} />
          </Col>
          <Col xs={6} md={4} lg={3}>
            <Button icon={<ReloadOutlined />} onClick={() => setTick((n) => n + 1)} data-testid="dashboard-refresh" block>
              {t("dash.refresh")}
            </Button>
          </Col>
        </Row>
      </Card>
      {summary.error && <Alert type="error" showIcon message={summary.error} data-testid="summary-error" />}
      <KpiCards summary={summary.data} loading={summary.loading && !summary.data} />
      <Row gutter={[12, 12]}>
        <Col xs={24} xl={14}>
          <CityChart filters={filters} tick={tick} />
        </Col>
        <Col xs={24} xl={10}>
          <TrendChart filters={filters} tick={tick} />
        </Col>
      </Row>
      <BreakdownTable filters={filters} tick={tick} />
      <Row gutter={[12, 12]}>
        {canReadAnomalies(user) && (
          <Col xs={24} xl={16}>
            <Anomalies tick={tick} />
          </Col>
        )}
        {canReadReports(user) && (
          <Col xs={24} xl={canReadAnomalies(user) ? 8 : 24}>
            <Reports product={filters.product_code} />
          </Col>
        )}
      </Row>
    </Space>
  );
}
