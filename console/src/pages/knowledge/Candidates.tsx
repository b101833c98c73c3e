// Candidates grown from closed tickets (GET /v1/candidates?product_code=&type=&state=), most frequent first:
// promote one (POST …/promote: a new draft, or a new version of an existing article with If-Match) or dismiss it.
import { App, Alert, Button, Col, Form, Input, Modal, Radio, Row, Select, Space, Table, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import type { Article } from "./Articles";
import { ARTICLE_TYPES, AUDIENCE_LABELS, CANDIDATE_STATE_LABELS, TYPE_LABELS, label, mayDecide, parseTags } from "./logic";
import { productOptions, useCatalog } from "./products";
import { usePaged } from "./usePaged";
import "./words";
import { FormRadioGroup } from "../../lib/formControls";

export interface Candidate {
  id: string;
  product_code: string;
  type: string;
  question: string;
  questions: { question: string; count: number }[];
  answers: { answer: string; count: number }[];
  occurrences: number;
  ticket_ids: string[];
  last_seen: string;
  state: string;
  decision?: { article_id?: string | null; reason?: string | null } | null;
}

export default function Candidates() {
  const { t, lang } = useLang();
  const { user } = useAuth();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const { entries } = useCatalog();
  const [product, setProduct] = useState<string | undefined>();
  const [type, setType] = useState<string | undefined>();
  const [state, setState] = useState("open");
  const list = usePaged<Candidate>("knowledge", "/v1/candidates", { product_code: product, type, state });
  const [promoting, setPromoting] = useState<Candidate | null>(null);
  const [dismissing, setDismissing] = useState<Candidate | null>(null);
  const [busy, setBusy] = useState(false);
  const [promoteForm] = Form.useForm();
  const [dismissForm] = Form.useForm();
  const mode = Form.useWatch("mode", promoteForm);

  const openPromote = (c: Candidate) => {
    promoteForm.resetFields();
    promoteForm.setFieldsValue({ mode: "new", title: c.question, body: c.answers[0]?.answer ?? "", audience: "internal", tags: "" });
    setPromoting(c);
  };

  const promote = async () => {
    if (!promoting) return;
    const v = await promoteForm.validateFields();
    setBusy(true);
    try {
      let body: Record<string, unknown>;
      const headers: Record<string, string> = {};
      if (v.mode === "version") {
        const articleId = String(v.article_id).trim();
        const target = await api<Article>("knowledge", `/v1/articles/${encodeURIComponent(articleId)}`);
        headers["If-Match"] = `"${target.version}"`;
        body = { mode: "version", article_id: articleId, body: v.body?.trim() || undefined, note: v.note?.trim() || undefined };
      } else {
        body = { mode: "new", title: v.title?.trim() || undefined, body: v.body?.trim() || undefined,
          tags: parseTags(v.tags ?? ""), audience: v.audience, note: v.note?.trim() || undefined };
      }
      const got = await api<{ article: { id: string } }>("knowledge", `/v1/candidates/${encodeURIComponent(promoting.id)}/promote`, {
        method: "POST", body, headers,
      });
      message.success(`${t("kn.promoted")}：${got.article.id}`);
      setPromoting(null);
      list.reload();
      navigate(`/knowledge/articles/${got.article.id}`);
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  const dismiss = async () => {
    if (!dismissing) return;
    const v = await dismissForm.validateFields();
    setBusy(true);
    try {
      await api("knowledge", `/v1/candidates/${encodeURIComponent(dismissing.id)}/dismiss`, {
        method: "POST", body: { reason: v.reason.trim() },
      });
      message.success(t("kn.dismissed"));
      setDismissing(null);
      list.reload();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  const required = [{ required: true, whitespace: true, message: t("kn.required") }];

  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Row gutter={[8, 8]}>
        <Col xs={24} sm={12} md={8}>
          <Select aria-label={t("kn.product")} style={{ width: "100%" }} allowClear showSearch optionFilterProp="label"
            placeholder={t("kn.allProducts")} value={product} onChange={setProduct} options={productOptions(entries)}
            data-testid="candidates-product" />
        </Col>
        <Col xs={12} sm={6} md={5}>
          <Select aria-label={t("kn.type")} style={{ width: "100%" }} allowClear placeholder={t("kn.allTypes")} value={type}
            onChange={setType} data-testid="candidates-type"
            options={ARTICLE_TYPES.map((v) => ({ value: v, label: label(TYPE_LABELS, v, lang) }))} />
        </Col>
        <Col xs={12} sm={6} md={5}>
          <Select aria-label={t("kn.state")} style={{ width: "100%" }} value={state} onChange={setState} data-testid="candidates-state"
            options={[...Object.keys(CANDIDATE_STATE_LABELS).map((v) => ({ value: v, label: label(CANDIDATE_STATE_LABELS, v, lang) })),
              { value: "all", label: t("kn.all") }]} />
        </Col>
      </Row>
      {list.error && <Alert type="error" showIcon message={list.error} />}
      <Table<Candidate>
        rowKey="id"
        size="small"
        loading={list.loading}
        dataSource={list.items}
        pagination={false}
        scroll={{ x: 800 }}
        onRow={(c) => ({ "data-testid": `candidate-row-${c.id}` }) as any}
        expandable={{
          expandedRowRender: (c) => (
            <Space direction="vertical">
              {c.questions.map((q) => <Typography.Text key={q.question}>{q.question}（{q.count}）</Typography.Text>)}
              <Typography.Text type="secondary">{t("kn.tickets")}：{c.ticket_ids.join("、")}</Typography.Text>
            </Space>
          ),
        }}
        columns={[
          { title: t("kn.question"), dataIndex: "question" },
          { title: t("kn.answer"), render: (_, c) => <Typography.Paragraph ellipsis={{ rows: 2 }} style={{ marginBottom: 0 }}>{c.answers[0]?.answer ?? "—"}</Typography.Paragraph> },
          { title: t("kn.occurrences"), dataIndex: "occurrences", width: 90 },
          { title: t("kn.type"), dataIndex: "type", width: 110, render: (v) => label(TYPE_LABELS, v, lang) },
          { title: t("kn.product"), dataIndex: "product_code", width: 130 },
          { title: t("kn.state"), dataIndex: "state", width: 100,
            render: (v) => <Tag color={CANDIDATE_STATE_LABELS[v]?.color}>{label(CANDIDATE_STATE_LABELS, v, lang)}</Tag> },
          { title: t("kn.lastSeen"), dataIndex: "last_seen", width: 110, render: (v) => dayjs(v).format("YYYY-MM-DD") },
          {
            title: t("kn.actions"), width: 160,
            render: (_, c) =>
              user && mayDecide(user, c) ? (
                <Space>
                  <Button size="small" type="primary" onClick={() => openPromote(c)} data-testid="action-promote">{t("kn.promote")}</Button>
                  <Button size="small" onClick={() => { dismissForm.resetFields(); setDismissing(c); }} data-testid="action-dismiss">{t("kn.dismiss")}</Button>
                </Space>
              ) : c.decision?.article_id ? (
                <Button type="link" size="small" onClick={() => navigate(`/knowledge/articles/${c.decision!.article_id}`)}>{c.decision.article_id}</Button>
              ) : null,
          },
        ]}
      />
      {list.hasMore && <Button onClick={list.more} loading={list.loading} data-testid="candidates-more">{t("kn.loadMore")}</Button>}

      <Modal open={!!promoting} title={`${t("kn.promote")}：${promoting?.question ?? ""}`} onCancel={() => setPromoting(null)} width={720}
        footer={promoting && [
          <Button key="c" onClick={() => setPromoting(null)}>{t("kn.cancel")}</Button>,
          <Button key="s" type="primary" loading={busy} onClick={promote} data-testid="dialog-submit">{t("kn.promote")}</Button>,
        ]}>
        <Form form={promoteForm} layout="vertical">
          <Form.Item name="mode">
            <FormRadioGroup data-testid="promote-mode">
              <Radio value="new" data-testid="promote-mode-new">{t("kn.promoteNew")}</Radio>
              <Radio value="version" data-testid="promote-mode-version">{t("kn.promoteVersion")}</Radio>
            </FormRadioGroup>
          </Form.Item>
          {mode === "version" ? (
            <Form.Item name="article_id" label={t("kn.articleId")}
              rules={[{ required: true, pattern: /^\s*KB-\d{6}\s*$/, message: "KB-000123" }]}>
              <Input placeholder="KB-000123" data-testid="promote-article-id" />
            </Form.Item>
          ) : (
            <>
              <Form.Item name="title" label={t("kn.title")} rules={required}><Input maxLength={200} data-testid="promote-title" /></Form.Item>
              <Form.Item name="audience" label={t("kn.audience")}>
                <Select options={Object.keys(AUDIENCE_LABELS).map((x) => ({ value: x, label: label(AUDIENCE_LABELS, x, lang) }))} />
              </Form.Item>
              <Form.Item name="tags" label={t("kn.tags")} extra={t("kn.tagsHelp")}><Input /></Form.Item>
            </>
          )}
          <Form.Item name="body" label={t("kn.body")} rules={required}>
            <Input.TextArea rows={6} maxLength={50000} data-testid="promote-body" />
          </Form.Item>
          <Form.Item name="note" label={t("kn.note")}><Input maxLength={500} /></Form.Item>
        </Form>
      </Modal>

      <Modal open={!!dismissing} title={`${t("kn.dismiss")}：${dismissing?.question ?? ""}`} onCancel={() => setDismissing(null)}
        footer={dismissing && [
          <Button key="c" onClick={() => setDismissing(null)}>{t("kn.cancel")}</Button>,
          <Button key="s" type="primary" danger loading={busy} onClick={dismiss} data-testid="dialog-submit">{t("kn.dismiss")}</Button>,
        ]}>
        <Form form={dismissForm} layout="vertical">
          <Form.Item name="reason" label={t("kn.reason")} rules={required}>
            <Input.TextArea rows={3} maxLength={500} data-testid="dismiss-reason" />
          </Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}
