// One dialog per ticket action: its fields, POST /v1/tickets/{id}/<route> with If-Match (the version read), and the
// service's refusal (409/412/422…) shown in words inside the dialog. The caller reloads the ticket after.
import { Alert, Button, Card, Col, Form, Input, List, Modal, Radio, Row, Space, Typography } from "antd";
import { useEffect, useState } from "react";
import { api, ApiError } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import type { Ticket } from "./common";
import { CAUSE_LABELS, type Action } from "./logic";
import "./words";
import { FormRadioGroup } from "../../lib/formControls";

export const ACTION_ROUTE: Record<Exclude<Action, "attach">, string> = {
  assign: "assign",
  escalate: "escalate",
  notes: "notes",
  resolve: "resolve",
  feedback: "feedback",
  pending: "pending",
  requester_reply: "requester-reply",
  answer: "answer",
  merge: "merge",
};

export const ACTION_TITLES: Record<Exclude<Action, "attach">, string> = {
  assign: "分派",
  escalate: "升级（转产品经理/厂家）",
  notes: "备注 / 进度通报",
  resolve: "答复用户",
  feedback: "用户反馈",
  pending: "待补充（向用户索取信息）",
  requester_reply: "用户补充信息",
  answer: "反馈答复给一线",
  merge: "合并到另一工单",
};

/** The test ids of the action buttons: action-assign, action-escalate, action-handback (answer), … */
export const ACTION_TESTID: Record<Action, string> = {
  assign: "action-assign",
  escalate: "action-escalate",
  notes: "action-notes",
  resolve: "action-resolve",
  feedback: "action-feedback",
  pending: "action-pending",
  requester_reply: "action-requester-reply",
  answer: "action-handback",
  merge: "action-merge",
  attach: "action-attach",
};

interface Suggestion {
  id: string;
  title: string;
  snippet: string;
  type_label?: string;
}

/** Build the request body of an action from the dialog's values (undefined and empty strings left out). */
export function actionBody(action: Exclude<Action, "attach">, v: Record<string, unknown>): Record<string, unknown> {
  const pick = (...keys: string[]) =>
    Object.fromEntries(keys.filter((k) => v[k] !== undefined && v[k] !== null && v[k] !== "").map((k) => [k, typeof v[k] === "string" ? (v[k] as string).trim() : v[k]]));
  switch (action) {
    case "assign":
      return pick("assignee");
    case "escalate":
      return pick("tier", "target", "reason");
    case "notes":
      return pick("body", "visibility");
    case "resolve":
      return pick("answer", "cause", "knowledge_article_id");
    case "feedback":
      return pick("satisfied", "score", "comment");
    case "pending":
      return pick("needed");
    case "requester_reply":
      return pick("body");
    case "answer":
      return pick("answer", "cause");
    case "merge":
      return pick("into");
  }
}

function CauseField({ required }: { required: boolean }) {
  return (
    <Form.Item name="cause" label="原因" rules={required ? [{ required: true, message: "请选择原因" }] : []}>
      <FormRadioGroup>
        {Object.entries(CAUSE_LABELS).map(([value, l]) => (
          <Radio key={value} value={value} data-testid={`field-cause-${value}`}>{l}</Radio>
        ))}
      </FormRadioGroup>
    </Form.Item>
  );
}

export default function ActionDialog({ action, ticket, onClose, onRefresh }: {
  action: Exclude<Action, "attach">;
  ticket: Ticket;
  onClose: (changed: boolean) => void;
  onRefresh?: () => void; // reread the ticket (after a 409/412 the dialog then sends the fresh version)
}) {
  const { user } = useAuth();
  const { t } = useLang();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [suggestions, setSuggestions] = useState<Suggestion[] | null>(null);
  const [suggestError, setSuggestError] = useState<string | null>(null);
  const articleId = Form.useWatch("knowledge_article_id", form);
  const withSuggestions = action === "resolve" || action === "answer";
  const proposal = ticket.proposed_answer;

  useEffect(() => {
    if (!withSuggestions) return;
    api<{ items: Suggestion[] }>("knowledge", "/v1/search", { query: { q: ticket.title, product_code: ticket.product_code, limit: 5 } })
      .then((r) => setSuggestions(r.items))
      .catch((e) => setSuggestError((e as Error).message));
  }, [withSuggestions, ticket.title, ticket.product_code]);

  const initial: Record<string, unknown> = {
    visibility: "internal",
    tier: ticket.tier < 2 ? 2 : 3,
    ...(action === "resolve" && proposal ? { answer: proposal.answer, cause: proposal.cause ?? undefined } : {}),
  };

  async function submit(values: Record<string, unknown>) {
    setBusy(true);
    setError(null);
    try {
      await api("ticketing", `/v1/tickets/${encodeURIComponent(ticket.id)}/${ACTION_ROUTE[action]}`, {
        method: "POST",
        body: actionBody(action, values),
        headers: { "If-Match": `"${ticket.version}"` },
      });
      onClose(true);
    } catch (e) {
      const stale = e instanceof ApiError && (e.status === 412 || e.status === 409);
      setError(stale ? `${(e as Error).message}（已读取工单的最新状态，请确认后重试）` : (e as Error).message);
      if (stale) onRefresh?.();
    } finally {
      setBusy(false);
    }
  }

  /** Fill the answer with the article (its whole body when it can be read, else the snippet) and link it. */
  const use = async (s: Suggestion) => {
    form.setFieldsValue({ answer: s.snippet, knowledge_article_id: action === "resolve" ? s.id : undefined });
    try {
      const article = await api<{ body: string }>("knowledge", `/v1/articles/${encodeURIComponent(s.id)}`);
      if (article?.body) form.setFieldsValue({ answer: article.body });
    } catch (e) {
      setError(`读取知识文章失败：${(e as Error).message}`);
    }
  };

  const fields = (() => {
    switch (action) {
      case "assign":
        return (
          <Form.Item label="处理人" required>
            <Space.Compact style={{ width: "100%" }}>
              <Form.Item name="assignee" noStyle rules={[{ required: true, message: "请填写处理人" }]}>
                <Input placeholder="处理人账号" data-testid="field-assignee" aria-label="处理人" />
              </Form.Item>
              {user && <Button onClick={() => form.setFieldsValue({ assignee: user.sub })} data-testid="assign-to-me">分派给我</Button>}
            </Space.Compact>
          </Form.Item>
        );
      case "escalate":
        return (
          <>
            <Form.Item name="tier" label="升级到" rules={[{ required: true }]}>
              <FormRadioGroup optionType="button">
                <Radio.Button value={2} disabled={ticket.tier >= 2} data-testid="field-tier-2">二线 产品经理</Radio.Button>
                <Radio.Button value={3} data-testid="field-tier-3">三线 厂家/其他部门</Radio.Button>
              </FormRadioGroup>
            </Form.Item>
            <Form.Item name="target" label="对象（产品经理账号、厂家编号或部门）" rules={[{ required: true, message: "请填写升级对象" }]}>
              <Input data-testid="field-target" />
            </Form.Item>
            <Form.Item name="reason" label="升级原因" rules={[{ required: true, message: "请填写升级原因" }]}>
              <Input.TextArea rows={3} data-testid="field-reason" />
            </Form.Item>
          </>
        );
      case "notes":
        return (
          <>
            <Form.Item name="visibility" label="可见范围">
              <FormRadioGroup optionType="button">
                <Radio.Button value="internal" data-testid="field-visibility-internal">内部备注</Radio.Button>
                <Radio.Button value="requester" data-testid="field-visibility-requester">向用户通报进度</Radio.Button>
              </FormRadioGroup>
            </Form.Item>
            <Form.Item name="body" label="内容" rules={[{ required: true, message: "请填写内容" }]}>
              <Input.TextArea rows={4} data-testid="field-body" />
            </Form.Item>
          </>
        );
      case "pending":
        return (
          <Form.Item name="needed" label="需要用户补充的信息" rules={[{ required: true, message: "请填写需要补充的信息" }]}>
            <Input.TextArea rows={3} data-testid="field-needed" />
          </Form.Item>
        );
      case "requester_reply":
        return (
          <Form.Item name="body" label="用户补充的内容" rules={[{ required: true, message: "请填写用户补充的内容" }]}>
            <Input.TextArea rows={4} data-testid="field-body" />
          </Form.Item>
        );
      case "resolve":
      case "answer":
        return (
          <>
            {action === "resolve" && proposal && (
              <Alert type="info" showIcon style={{ marginBottom: 12 }} message={`${t("tk.proposed")}（${proposal.by_name ?? proposal.by}）`} description={proposal.answer} />
            )}
            <Form.Item name="answer" label={action === "resolve" ? "答复内容" : "建议答复口径（由一线答复用户）"}
              rules={action === "answer" || !proposal ? [{ required: true, message: "请填写答复" }] : []}>
              <Input.TextArea rows={5} data-testid="field-answer" />
            </Form.Item>
            <CauseField required={action === "resolve" && !proposal?.cause} />
            {action === "resolve" && (
              <Form.Item name="knowledge_article_id" label="引用的知识文章">
                <Input allowClear placeholder="可选" data-testid="field-knowledge-article" />
              </Form.Item>
            )}
          </>
        );
      case "feedback":
        return (
          <>
            <Form.Item name="satisfied" label="用户是否满意" rules={[{ required: true, message: "请选择" }]}>
              <FormRadioGroup optionType="button">
                <Radio.Button value={true} data-testid="field-satisfied-yes">满意（归档）</Radio.Button>
                <Radio.Button value={false} data-testid="field-satisfied-no">不满意（重新处理）</Radio.Button>
              </FormRadioGroup>
            </Form.Item>
            <Form.Item name="score" label="评分">
              <FormRadioGroup optionType="button">
                {[1, 2, 3, 4, 5].map((n) => (
                  <Radio.Button key={n} value={n} data-testid={`field-score-${n}`}>{n}</Radio.Button>
                ))}
              </FormRadioGroup>
            </Form.Item>
            <Form.Item name="comment" label="用户意见">
              <Input.TextArea rows={3} data-testid="field-comment" />
            </Form.Item>
          </>
        );
      case "merge":
        return (
          <Form.Item name="into" label="合并到工单号" rules={[{ required: true, message: "请填写工单号" }]}>
            <Input placeholder="如 TS-20261125-00042" data-testid="field-into" />
          </Form.Item>
        );
    }
  })();

  return (
    <Modal
      open
      width={withSuggestions ? 960 : 560}
      title={`${ACTION_TITLES[action]} · ${ticket.id}`}
      onCancel={() => onClose(false)}
      footer={[
        <Button key="c" onClick={() => onClose(false)} data-testid="dialog-cancel">{t("tk.cancel")}</Button>,
        <Button key="s" type="primary" loading={busy} onClick={() => form.submit()} data-testid="dialog-submit">{t("tk.submit")}</Button>,
      ]}
    >
      <Row gutter={16}>
        <Col xs={24} md={withSuggestions ? 14 : 24}>
          <Form form={form} layout="vertical" initialValues={initial} onFinish={submit} data-testid={`dialog-${action}`}>
            {fields}
          </Form>
          {error && <Alert type="error" showIcon message={error} data-testid="dialog-error" />}
        </Col>
        {withSuggestions && (
          <Col xs={24} md={10}>
            <Card size="small" title={t("tk.suggestions")} data-testid="suggestions">
              {suggestError && <Alert type="warning" showIcon message={suggestError} />}
              {!suggestError && (
                <List
                  loading={suggestions === null}
                  dataSource={suggestions ?? []}
                  locale={{ emptyText: "没有找到相关知识" }}
                  renderItem={(s) => (
                    <List.Item
                      actions={[
                        <Button key="u" size="small" type={articleId === s.id ? "primary" : "default"} onClick={() => use(s)} data-testid={`suggestion-use-${s.id}`}>
                          {t("tk.useSuggestion")}
                        </Button>,
                      ]}
                    >
                      <List.Item.Meta
                        title={<span>{s.title}{s.type_label ? <Typography.Text type="secondary">（{s.type_label}）</Typography.Text> : null}</span>}
                        description={s.snippet}
                      />
                    </List.Item>
                  )}
                />
              )}
            </Card>
          </Col>
        )}
      </Row>
    </Modal>
  );
}
