// The article list (GET /v1/articles?product_code=&type=&state=), newest first, cursor paged.
import { Alert, Button, Col, Row, Select, Space, Table, Tag } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { ARTICLE_TYPES, AUDIENCE_LABELS, STATE_LABELS, TYPE_LABELS, label, mayWrite, readsDrafts } from "./logic";
import { productOptions, useCatalog } from "./products";
import { usePaged } from "./usePaged";
import "./words";

export interface Article {
  id: string;
  type: string;
  product_code: string | null;
  title: string;
  body: string;
  tags: string[];
  audience: string;
  state: string;
  version: number;
  latest_version: number;
  updated_at: string;
  updated_by: string;
  reuse_count: number;
  versions: { version: number; state: string; audience: string; changed_by: string; changed_at: string; note: string | null }[];
}

export default function Articles() {
  const { t, lang } = useLang();
  const { user } = useAuth();
  const navigate = useNavigate();
  const { entries } = useCatalog();
  const [product, setProduct] = useState<string | undefined>();
  const [type, setType] = useState<string | undefined>();
  const [state, setState] = useState<string | undefined>();
  const list = usePaged<Article>("knowledge", "/v1/articles", { product_code: product, type, state });
  const canWrite = !!user && mayWrite(user, null);

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Row gutter={[8, 8]} align="middle">
        <Col xs={24} sm={12} md={7}>
          <Select aria-label={t("kn.product")} style={{ width: "100%" }} allowClear showSearch optionFilterProp="label"
            placeholder={t("kn.allProducts")} value={product} onChange={setProduct} options={productOptions(entries)}
            data-testid="articles-product" />
        </Col>
        <Col xs={12} sm={6} md={5}>
          <Select aria-label={t("kn.type")} style={{ width: "100%" }} allowClear placeholder={t("kn.allTypes")}
            value={type} onChange={setType} data-testid="articles-type"
            options={ARTICLE_TYPES.map((v) => ({ value: v, label: label(TYPE_LABELS, v, lang) }))} />
        </Col>
        <Col xs={12} sm={6} md={4}>
          <Select aria-label={t("kn.state")} style={{ width: "100%" }} allowClear placeholder={t("kn.state")}
            value={state} onChange={setState} data-testid="articles-state"
            options={Object.keys(STATE_LABELS).filter((v) => v !== "draft" || (!!user && readsDrafts(user)))
              .map((v) => ({ value: v, label: label(STATE_LABELS, v, lang) }))} />
        </Col>
        <Col flex="auto" style={{ textAlign: "right" }}>
          {canWrite && (
            <Button type="primary" onClick={() => navigate("/knowledge/articles/new")} data-testid="article-new">
              {t("kn.new")}
            </Button>
          )}
        </Col>
      </Row>
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Article>
        rowKey="id"
        size="small"
        loading={list.loading}
        dataSource={list.items}
        pagination={false}
        scroll={{ x: 720 }}
        onRow={(a) => ({ "data-testid": `article-row-${a.id}` }) as any}
        columns={[
          { title: t("kn.id"), dataIndex: "id", width: 110 },
          { title: t("kn.title"), dataIndex: "title", render: (v, a) => <Link to={`/knowledge/articles/${a.id}`}>{v}</Link> },
          { title: t("kn.type"), dataIndex: "type", width: 110, render: (v) => label(TYPE_LABELS, v, lang) },
          { title: t("kn.product"), dataIndex: "product_code", width: 130, render: (v) => v ?? t("kn.general") },
          { title: t("kn.state"), dataIndex: "state", width: 90,
            render: (v) => <Tag color={STATE_LABELS[v]?.color}>{label(STATE_LABELS, v, lang)}</Tag> },
          { title: t("kn.audience"), dataIndex: "audience", width: 100, render: (v) => label(AUDIENCE_LABELS, v, lang) },
          { title: t("kn.version"), dataIndex: "version", width: 60 },
          { title: t("kn.updatedAt"), dataIndex: "updated_at", width: 140,
            render: (v) => dayjs(v).format("YYYY-MM-DD HH:mm") },
        ]}
      />
      {list.hasMore && (
        <Button onClick={list.more} loading={list.loading} data-testid="articles-more">
          {t("kn.loadMore")}
        </Button>
      )}
    </Space>
  );
}
