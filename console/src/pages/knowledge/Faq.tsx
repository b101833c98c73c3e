// The monthly FAQ of a product (GET /v1/faq/monthly/{YYYY-MM}?product_code=&format=json|md|docx): shown on the
// page, downloaded as Markdown or Word (fetch with the bearer token → blob → object URL), and made the month's
// faq article by a product manager (POST …/publish; If-Match once the month's article exists).
import { App, Alert, Button, Card, Col, DatePicker, Empty, List, Row, Select, Space, Tag, Typography } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError, api, getToken, url } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import type { Article } from "./Articles";
import { dispositionFilename, faqFilename, mayValidate, previousMonth } from "./logic";
import { productOptions, useCatalog } from "./products";
import "./words";

interface Entry {
  question: string;
  answer: string;
  count: number;
  misunderstanding_complaints: number;
  cities: string[];
}

interface MonthlyFaq {
  product_code: string;
  month: string;
  closes: number;
  reviewed_only?: boolean;
  unreviewed_closes?: number;
  misunderstandings: Entry[];
  questions: Entry[];
}

export async function download(path: string, query: Record<string, string>, fallbackName: string) {
  const headers: Record<string, string> = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url("knowledge", path, query), { headers });
  } catch {
    throw new ApiError(0, { title: "无法连接服务，请检查网络" });
  }
  if (!response.ok) {
    let problem: Record<string, unknown> = {};
    try {
      problem = await response.json();
    } catch {
      /* not JSON: the generic words of the status */
    }
    if (response.status === 401) window.dispatchEvent(new Event("ops:unauthorized"));
    throw new ApiError(response.status, problem);
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = dispositionFilename(response.headers.get("Content-Disposition")) ?? fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

export default function Faq() {
  const { t } = useLang();
  const { user } = useAuth();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const { entries } = useCatalog();
  const [product, setProduct] = useState<string | undefined>();
  const [month, setMonth] = useState<Dayjs>(dayjs(previousMonth() + "-01"));
  const [faq, setFaq] = useState<MonthlyFaq | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const m = month.format("YYYY-MM");
  const path = `/v1/faq/monthly/${m}`;

  const show = async () => {
    if (!product) return setError(t("kn.pickProduct"));
    setBusy("show");
    setError(null);
    try {
      setFaq(await api<MonthlyFaq>("knowledge", path, { query: { product_code: product } }));
    } catch (e: any) {
      setFaq(null);
      setError(e.message);
    } finally {
      setBusy(null);
    }
  };

  const get = async (format: "md" | "docx") => {
    if (!product) return setError(t("kn.pickProduct"));
    setBusy(format);
    try {
      await download(path, { product_code: product, format }, faqFilename(product, m, format));
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(null);
    }
  };

  const publish = async () => {
    if (!product) return setError(t("kn.pickProduct"));
    setBusy("publish");
    const call = (headers: Record<string, string> = {}) =>
      api<{ article_id: string; action: string }>("knowledge", `${path}/publish`, {
        method: "POST", query: { product_code: product }, headers,
      });
    try {
      let got;
      try {
        got = await call();
      } catch (e: any) {
        if (!(e instanceof ApiError) || e.status !== 428) throw e;
        // The month's article exists: base the new version on its current version.
        const list = await api<{ items: Article[] }>("knowledge", "/v1/articles", {
          query: { product_code: product, type: "faq", limit: 200 },
        });
        const mine = list.items.find((a) => a.state !== "archived" && a.tags.includes(m) && a.tags.includes("月度FAQ"));
        if (!mine) throw e;
        got = await call({ "If-Match": `"${mine.version}"` });
      }
      message.success(got.article_id);
      navigate(`/knowledge/articles/${got.article_id}`);
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(null);
    }
  };

  const section = (title: string, list: Entry[], testid: string) => (
    <Card size="small" title={title} data-testid={testid}>
      <List
        dataSource={list}
        locale={{ emptyText: <Empty /> }}
        renderItem={(e) => (
          <List.Item>
            <List.Item.Meta
              title={<Space wrap><span>{e.question}</span><Tag color="blue">{t("kn.count")} {e.count}</Tag>
                {e.misunderstanding_complaints > 0 && <Tag color="orange">{t("kn.misunderstandings")} {e.misunderstanding_complaints}</Tag>}</Space>}
              description={<>
                <Typography.Paragraph style={{ whiteSpace: "pre-wrap", marginBottom: 4 }}>{e.answer}</Typography.Paragraph>
                <Typography.Text type="secondary">{t("kn.cities")}：{e.cities.join("、")}</Typography.Text>
              </>}
            />
          </List.Item>
        )}
      />
    </Card>
  );

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Row gutter={[8, 8]} align="middle">
        <Col xs={24} sm={12} md={8}>
          <Select aria-label={t("kn.product")} style={{ width: "100%" }} showSearch optionFilterProp="label" placeholder={t("kn.pickProduct")}
            value={product} onChange={(v) => { setProduct(v); setError(null); setFaq(null); }} options={productOptions(entries)} data-testid="faq-product" />
        </Col>
        <Col>
          <DatePicker picker="month" value={month} onChange={(d) => d && setMonth(d)} allowClear={false} aria-label={t("kn.month")} data-testid="faq-month" />
        </Col>
        <Col>
          <Space wrap>
            <Button type="primary" onClick={show} loading={busy === "show"} data-testid="faq-show">{t("kn.show")}</Button>
            <Button onClick={() => get("docx")} loading={busy === "docx"} data-testid="faq-download-docx">{t("kn.download")} Word</Button>
            <Button onClick={() => get("md")} loading={busy === "md"} data-testid="faq-download-md">{t("kn.download")} Markdown</Button>
            {user && product && mayValidate(user, product) && (
              <Button onClick={publish} loading={busy === "publish"} data-testid="faq-publish">{t("kn.faqPublish")}</Button>
            )}
          </Space>
        </Col>
      </Row>
      {error && <Alert type="error" showIcon message={error} data-testid="faq-error" />}
      {faq && (
        <>
          <Typography.Text type="secondary">{faq.month} · {t("kn.closes")} {faq.closes}</Typography.Text>
          {faq.reviewed_only && (
            <Alert type="info" showIcon data-testid="faq-reviewed-only"
              message={`${t("kn.reviewedOnly")} ${faq.unreviewed_closes ?? 0}`} />
          )}
          {section(t("kn.misunderstandings"), faq.misunderstandings, "faq-misunderstandings")}
          {section(t("kn.otherQuestions"), faq.questions, "faq-questions")}
        </>
      )}
    </Space>
  );
}
