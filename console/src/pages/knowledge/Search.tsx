// Search (GET /v1/search): ranked results with the matched words highlighted from the answer's offsets (the text
// is rendered as text: an article containing markup cannot inject any), filters product/type, cursor paging.
import { Alert, Button, Card, Checkbox, Col, Empty, Input, List, Row, Select, Space, Tag, Typography } from "antd";
import { useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { ARTICLE_TYPES, STATE_LABELS, TYPE_LABELS, highlight, label, readsDrafts } from "./logic";
import { productOptions, useCatalog } from "./products";
import "./words";

interface Hit {
  id: string;
  type: string;
  product_code: string | null;
  title: string;
  title_highlights: [number, number][];
  snippet: string;
  highlights: [number, number][];
  state: string;
  version: number;
  score: number;
}

interface Answer {
  items: Hit[];
  next_cursor: string | null;
  total: number;
  words: string[];
  expanded: Record<string, string[]>;
}

export function Highlighted({ text, spans }: { text: string; spans: [number, number][] }) {
  return (
    <>
      {highlight(text, spans).map((p, i) =>
        p.hit ? (
          <mark key={i} style={{ background: "#ffe58f", padding: 0 }}>
            {p.text}
          </mark>
        ) : (
          <span key={i}>{p.text}</span>
        ),
      )}
    </>
  );
}

export default function Search() {
  const { t, lang } = useLang();
  const { user } = useAuth();
  const staff = !!user && readsDrafts(user);
  const { entries, error: catalogError } = useCatalog();
  const [q, setQ] = useState("");
  const [product, setProduct] = useState<string | undefined>();
  const [type, setType] = useState<string | undefined>();
  const [drafts, setDrafts] = useState(false);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async (cursor?: string) => {
    if (!q.trim()) return;
    setLoading(true);
    setError(null);
    try {
      const got = await api<Answer>("knowledge", "/v1/search", {
        query: { q: q.trim(), product_code: product, type, include_drafts: drafts || undefined, limit: 10, cursor },
      });
      setAnswer((old) => (cursor && old ? { ...got, items: [...old.items, ...got.items] } : got));
    } catch (e: any) {
      setError(e.message);
    } finally {
      setLoading(false);
    }
  };

  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <Row gutter={[8, 8]}>
        <Col xs={24} md={10}>
          <Input.Search
            data-testid="search-input"
            aria-label={t("kn.search")}
            placeholder={t("kn.searchPlaceholder")}
            value={q}
            onChange={(e) => setQ(e.target.value)}
            onSearch={() => run()}
            enterButton={t("kn.search")}
            maxLength={200}
            loading={loading}
            allowClear
          />
        </Col>
        <Col xs={12} md={6}>
          <Select
            data-testid="search-product"
            aria-label={t("kn.product")}
            style={{ width: "100%" }}
            allowClear
            showSearch
            optionFilterProp="label"
            placeholder={t("kn.allProducts")}
            value={product}
            onChange={setProduct}
            options={productOptions(entries)}
          />
        </Col>
        <Col xs={12} md={4}>
          <Select
            data-testid="search-type"
            aria-label={t("kn.type")}
            style={{ width: "100%" }}
            allowClear
            placeholder={t("kn.allTypes")}
            value={type}
            onChange={setType}
            options={ARTICLE_TYPES.map((v) => ({ value: v, label: label(TYPE_LABELS, v, lang) }))}
          />
        </Col>
        {staff && (
          <Col xs={24} md={4}>
            <Checkbox checked={drafts} onChange={(e) => setDrafts(e.target.checked)} data-testid="search-drafts">
              {t("kn.includeDrafts")}
            </Checkbox>
          </Col>
        )}
      </Row>
      {catalogError && <Alert type="warning" showIcon message={catalogError} />}
      {error && <Alert type="error" showIcon message={error} data-testid="search-error" />}
      {answer && (
        <Card size="small">
          <Space wrap>
            <Typography.Text type="secondary">
              {t("kn.total")} {answer.total}
            </Typography.Text>
            {answer.words.length > 0 && (
              <span>
                {t("kn.words")}：{answer.words.map((w) => <Tag key={w}>{w}</Tag>)}
              </span>
            )}
            {Object.entries(answer.expanded ?? {}).map(([w, syn]) => (
              <Typography.Text key={w} type="secondary">
                {t("kn.expanded")} {w} → {syn.join("、")}
              </Typography.Text>
            ))}
          </Space>
        </Card>
      )}
      {answer && (
        <List
          data-testid="search-results"
          dataSource={answer.items}
          locale={{ emptyText: <Empty description={t("kn.noResult")} /> }}
          renderItem={(hit) => (
            <List.Item key={hit.id} data-testid={`search-hit-${hit.id}`}>
              <List.Item.Meta
                title={
                  <Space wrap>
                    <Link to={`/knowledge/articles/${hit.id}`}>
                      <Highlighted text={hit.title} spans={hit.title_highlights} />
                    </Link>
                    <Tag>{label(TYPE_LABELS, hit.type, lang)}</Tag>
                    {hit.state !== "published" && (
                      <Tag color={STATE_LABELS[hit.state]?.color}>{label(STATE_LABELS, hit.state, lang)}</Tag>
                    )}
                    <Typography.Text type="secondary">{hit.product_code ?? t("kn.general")}</Typography.Text>
                  </Space>
                }
                description={
                  <Typography.Paragraph style={{ whiteSpace: "pre-wrap", marginBottom: 0 }}>
                    <Highlighted text={hit.snippet} spans={hit.highlights} />
                  </Typography.Paragraph>
                }
              />
            </List.Item>
          )}
        />
      )}
      {answer?.next_cursor && (
        <Button onClick={() => run(answer.next_cursor!)} loading={loading} data-testid="search-more">
          {t("kn.loadMore")}
        </Button>
      )}
    </Space>
  );
}
