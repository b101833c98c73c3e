// The article editor: a new article (POST /v1/articles, a draft v1) or a new version of one (PUT with If-Match =
// the version read; 412 when someone changed it meanwhile, shown in words).
import { App, Alert, Button, Card, Form, Input, Select, Space, Spin } from "antd";
import { useEffect, useState } from "react";
import { useNavigate, useParams } from "react-router-dom";
import { api } from "../../lib/api";
import { useLang } from "../../lib/i18n";
import type { Article } from "./Articles";
import { ARTICLE_TYPES, AUDIENCE_LABELS, TYPE_LABELS, label, parseTags } from "./logic";
import { productOptions, useCatalog } from "./products";
import "./words";
import { FormSelect } from "../../lib/formControls";

interface Values {
  type: string;
  product_code?: string;
  title: string;
  body: string;
  tags: string;
  audience: string;
  note?: string;
}

export default function Editor() {
  const { id } = useParams();
  const editing = !!id;
  const navigate = useNavigate();
  const { t, lang } = useLang();
  const { message } = App.useApp();
  const { entries } = useCatalog();
  const [form] = Form.useForm<Values>();
  const [article, setArticle] = useState<Article | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!id) return;
    api<Article>("knowledge", `/v1/articles/${encodeURIComponent(id)}`).then(
      (a) => {
        setArticle(a);
        form.setFieldsValue({ type: a.type, product_code: a.product_code ?? undefined, title: a.title, body: a.body,
          tags: a.tags.join("，"), audience: a.audience });
      },
      (e) => setError(e.message),
    );
  }, [id, form]);

  const save = async (v: Values) => {
    setSaving(true);
    try {
      const common = { title: v.title, body: v.body, tags: parseTags(v.tags ?? ""), audience: v.audience };
      let saved: Article;
      if (editing && article) {
        saved = await api<Article>("knowledge", `/v1/articles/${encodeURIComponent(article.id)}`, {
          method: "PUT",
          body: { ...common, note: v.note },
          headers: { "If-Match": `"${article.version}"` },
        });
      } else {
        saved = await api<Article>("knowledge", "/v1/articles", {
          method: "POST",
          body: { ...common, type: v.type, product_code: v.product_code || null, note: v.note?.trim() || undefined },
        });
      }
      message.success(t("kn.saved"));
      navigate(`/knowledge/articles/${saved.id}`);
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setSaving(false);
    }
  };

  if (error) return <Alert type="error" showIcon message={error} />;
  if (editing && !article) return <Spin />;
  const required = [{ required: true, whitespace: true, message: t("kn.required") }];

  return (
    <Card title={editing ? `${t("kn.edit")} ${article?.id} v${article?.version}` : t("kn.new")}>
      <Form<Values> form={form} layout="vertical" onFinish={save} initialValues={{ audience: "internal", tags: "" }}
        style={{ maxWidth: 900 }} data-testid="article-form">
        <Space wrap size="middle" style={{ width: "100%" }}>
          <Form.Item name="type" label={t("kn.type")} rules={[{ required: true, message: t("kn.required") }]} style={{ minWidth: 200 }}>
            <FormSelect disabled={editing} data-testid="article-type" aria-label={t("kn.type")}
              options={ARTICLE_TYPES.map((x) => ({ value: x, label: label(TYPE_LABELS, x, lang) }))} />
          </Form.Item>
          <Form.Item name="product_code" label={t("kn.product")} style={{ minWidth: 260 }}>
            <Select disabled={editing} allowClear showSearch optionFilterProp="label" placeholder={t("kn.general")}
              options={productOptions(entries)} data-testid="article-product" aria-label={t("kn.product")} />
          </Form.Item>
          <Form.Item name="audience" label={t("kn.audience")} style={{ minWidth: 160 }}>
            <Select data-testid="article-audience" aria-label={t("kn.audience")}
              options={Object.keys(AUDIENCE_LABELS).map((x) => ({ value: x, label: label(AUDIENCE_LABELS, x, lang) }))} />
          </Form.Item>
        </Space>
        <Form.Item name="title" label={t("kn.title")} rules={required}>
          <Input maxLength={200} data-testid="article-title-input" />
        </Form.Item>
        <Form.Item name="body" label={t("kn.body")} rules={required}>
          <Input.TextArea rows={12} maxLength={50000} data-testid="article-body-input" />
        </Form.Item>
        <Form.Item name="tags" label={t("kn.tags")} extra={t("kn.tagsHelp")}>
          <Input data-testid="article-tags-input" />
        </Form.Item>
        <Form.Item name="note" label={t("kn.note")} rules={editing ? required : []}>
          <Input maxLength={500} data-testid="article-note-input" />
        </Form.Item>
        <Space>
          <Button type="primary" htmlType="submit" loading={saving} data-testid="article-save">{t("kn.save")}</Button>
          <Button onClick={() => navigate(-1)}>{t("kn.cancel")}</Button>
        </Space>
      </Form>
    </Card>
  );
}
