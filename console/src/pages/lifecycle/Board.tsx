// The lifecycle board (GET /v1/portfolio?platform_code=): products by stage as columns, gates blocked with every
// missing item, trials ending this month, overdue inspections.
import { Alert, Badge, Card, Col, Empty, List, Row, Select, Space, Spin, Table, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../lib/api";
import { useLang } from "../../lib/i18n";
import { useCatalog } from "../knowledge/products";
import { beijingToday, boardColumns, dueColour, stageLabel } from "./logic";
import "./words";

interface Missing {
  code: string;
  label: string;
}

interface Portfolio {
  as_of: string;
  by_stage: { stage: string; stage_label: string; count: number; codes: string[] }[];
  blocked: { code: string; name: string; stage: string; stage_label: string; next_stage: string; missing: Missing[] }[];
  trials_ending: { code: string; name: string; stage: string; stage_label: string; entered_at: string; earliest_end: string; overdue: boolean }[];
  overdue_inspections: { target: string; plan_id: string; name: string; next_due: string }[];
}

export default function Board() {
  const { t, lang } = useLang();
  const { entries } = useCatalog();
  const [platform, setPlatform] = useState<string | undefined>();
  const [data, setData] = useState<Portfolio | null>(null);
  const [error, setError] = useState<string | null>(null);
  const names = useMemo(() => new Map(entries.map((e) => [e.code, e.name])), [entries]);
  const platforms = entries.filter((e) => e.product_count !== undefined);

  useEffect(() => {
    setError(null);
    setData(null);
    api<Portfolio>("lifecycle", "/v1/portfolio", { query: { platform_code: platform } }).then(setData, (e) => setError(e.message));
  }, [platform]);

  const today = beijingToday();
  const product = (code: string) => (
    <Link to={`/lifecycle/${code}`} data-testid={`board-product-${code}`}>
      {names.get(code) ?? code}
    </Link>
  );

  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <Row gutter={8} align="middle">
        <Col xs={24} sm={10} md={6}>
          <Select aria-label={t("lc.platform")} style={{ width: "100%" }} allowClear placeholder={t("lc.allPlatforms")}
            value={platform} onChange={setPlatform} data-testid="board-platform"
            options={platforms.map((p) => ({ value: p.code, label: p.name }))} />
        </Col>
        <Col>
          {data && <Typography.Text type="secondary">{t("lc.asOf")} {dayjs(data.as_of).format("YYYY-MM-DD HH:mm")}</Typography.Text>}
        </Col>
      </Row>
      {error && <Alert type="error" showIcon message={error} data-testid="board-error" />}
      {!data && !error && <Spin />}
      {data && (
        <>
          <Card size="small" title={t("lc.byStage")}>
            <div style={{ display: "flex", gap: 8, overflowX: "auto", paddingBottom: 4 }} data-testid="board-columns">
              {boardColumns(data.by_stage).map((col) => (
                <div key={col.stage} style={{ minWidth: 120, flex: "1 0 120px", background: "#fafafa", border: "1px solid #f0f0f0", borderRadius: 6, padding: 8 }}
                  data-testid={`board-stage-${col.stage}`}>
                  <div style={{ marginBottom: 6, display: "flex", gap: 4, alignItems: "center" }}>
                    <Typography.Text strong>{stageLabel(col.stage, lang)}</Typography.Text>
                    <Badge count={col.codes.length} showZero color={col.codes.length ? "#1565c0" : "#bbb"} />
                  </div>
                  <div style={{ display: "flex", flexDirection: "column", gap: 2, maxHeight: 260, overflowY: "auto" }}>
                    {col.codes.map((c) => <span key={c}>{product(c)}</span>)}
                  </div>
                </div>
              ))}
            </div>
          </Card>
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={14}>
              <Card size="small" title={`${t("lc.blocked")}（${data.blocked.length}）`} data-testid="board-blocked">
                <Table
                  rowKey="code"
                  size="small"
                  dataSource={data.blocked}
                  pagination={{ pageSize: 10, hideOnSinglePage: true }}
                  scroll={{ x: 560 }}
                  columns={[
                    { title: t("lc.product"), dataIndex: "code", width: 140, render: (c) => product(c) },
                    { title: t("lc.stage"), width: 150, render: (_, b) => `${stageLabel(b.stage, lang)} → ${stageLabel(b.next_stage, lang)}` },
                    { title: t("lc.missing"), dataIndex: "missing",
                      render: (m: Missing[]) => <Space size={[4, 4]} wrap>{m.map((x) => <Tag color="red" key={x.code}>{x.label}</Tag>)}</Space> },
                  ]}
                />
              </Card>
            </Col>
            <Col xs={24} lg={10}>
              <Space direction="vertical" style={{ width: "100%" }}>
                <Card size="small" title={t("lc.trialsEnding")} data-testid="board-trials-ending">
                  <List size="small" dataSource={data.trials_ending} locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("lc.none")} /> }}
                    renderItem={(e) => (
                      <List.Item>
                        <Space wrap>
                          {product(e.code)}
                          <Tag>{stageLabel(e.stage, lang)}</Tag>
                          <Tag color={e.overdue ? "red" : dueColour(e.earliest_end, today)}>{t("lc.earliestEnd")} {e.earliest_end}</Tag>
                        </Space>
                      </List.Item>
                    )} />
                </Card>
                <Card size="small" title={t("lc.overdueInspections")} data-testid="board-overdue-inspections">
                  <List size="small" dataSource={data.overdue_inspections} locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("lc.none")} /> }}
                    renderItem={(e) => (
                      <List.Item>
                        <Space wrap>
                          {product(e.target)}
                          <span>{e.name}</span>
                          <Tag color="red">{t("lc.nextDue")} {e.next_due}</Tag>
                        </Space>
                      </List.Item>
                    )} />
                </Card>
              </Space>
            </Col>
          </Row>
        </>
      )}
    </Space>
  );
}
