// The ticket page (/tickets/:id): details, SLA, customer, the timeline (GET …/history), notes, attachments, and
// only the actions the signed-in role may take in the ticket's status (logic.allowedActions). Every action sends
// If-Match with the version read and reloads the ticket after; refusals are shown in words.
import { Alert, App, Button, Card, Col, Descriptions, Empty, List, Row, Space, Spin, Tag, Timeline, Typography } from "antd";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, describeProblem, getToken, url } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import ActionDialog, { ACTION_TESTID, ACTION_TITLES } from "./ActionDialog";
import { DeadlineTag, StatusTag, useNow, type Ticket } from "./common";
import {
  ACTION_LABELS, CAUSE_LABELS, CHANNEL_LABELS, INDUSTRY_LABELS, KIND_LABELS, PRIORITY_LABELS, STATUS_LABELS, TIER_LABELS,
  allowedActions, formatDuration, formatSize, formatTime, label, type Action,
} from "./logic";
import "./words";

interface HistoryEntry {
  at: string;
  action: string;
  actor: string;
  actor_name?: string | null;
  from_status?: string | null;
  to_status: string;
  details: Record<string, unknown>;
}

const CLOSE_REASONS: Record<string, string> = { satisfied: "用户满意", no_feedback: "超时未反馈", merged: "合并为重复工单" };

function detailText(h: HistoryEntry): string {
  const d = h.details ?? {};
  const parts: string[] = [];
  if (d.assignee) parts.push(`处理人 ${d.assignee}`);
  if (d.tier && h.action === "escalate") parts.push(`升级到 ${TIER_LABELS[d.tier as number] ?? d.tier}：${d.target ?? ""}`);
  if (d.reason) parts.push(`原因：${d.reason}`);
  if (d.visibility) parts.push(d.visibility === "requester" ? "向用户通报" : "内部备注");
  if (d.needed) parts.push(`待补充：${d.needed}`);
  if (d.cause) parts.push(`原因：${label(CAUSE_LABELS, d.cause as string)}`);
  if (d.satisfied !== undefined && h.action === "feedback") parts.push(d.satisfied ? "满意" : "不满意");
  if (d.score) parts.push(`评分 ${d.score}`);
  if (d.comment) parts.push(`意见：${d.comment}`);
  if (d.into) parts.push(`合并到 ${d.into}`);
  if (d.from && h.action === "merged_in") parts.push(`合并自 ${d.from}`);
  if (d.filename) parts.push(String(d.filename));
  if (d.from_tier) parts.push(`来自${TIER_LABELS[d.from_tier as number] ?? d.from_tier}`);
  if (typeof d.pause_seconds === "number") parts.push(`暂停 ${formatDuration(d.pause_seconds * 1000)}`);
  return parts.join("；");
}

async function download(ticketId: string, attachment: { id: string; filename: string }) {
  const token = getToken();
  const response = await fetch(url("ticketing", `/v1/tickets/${encodeURIComponent(ticketId)}/attachments/${encodeURIComponent(attachment.id)}`), {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (!response.ok) {
    let problem: Record<string, unknown> = {};
    try {
      problem = await response.json();
    } catch {
      /* no body */
    }
    throw new ApiError(response.status, problem);
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = attachment.filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

export default function TicketPage() {
  const { id = "" } = useParams();
  const { user } = useAuth();
  const { t } = useLang();
  const { message } = App.useApp();
  const now = useNow();
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Exclude<Action, "attach"> | null>(null);
  const [uploading, setUploading] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const found = await api<Ticket>("ticketing", `/v1/tickets/${encodeURIComponent(id)}`);
      setTicket(found);
    } catch (e) {
      setError((e as Error).message);
    }
    try {
      const h = await api<{ items: HistoryEntry[] }>("ticketing", `/v1/tickets/${encodeURIComponent(id)}/history`);
      setHistory(h.items);
      setHistoryError(null);
    } catch (e) {
      setHistoryError((e as Error).message);
    }
  }, [id]);

  useEffect(() => {
    setTicket(null);
    load();
  }, [load]);

  async function upload(file: File) {
    if (!ticket) return;
    const form = new FormData();
    form.append("file", file, file.name);
    setUploading(true);
    try {
      await api("ticketing", `/v1/tickets/${encodeURIComponent(ticket.id)}/attachments`, {
        method: "POST",
        body: form,
        headers: { "If-Match": `"${ticket.version}"` },
      });
      message.success(`已上传 ${file.name}`);
    } catch (e) {
      message.error(`上传失败：${(e as Error).message}`);
    } finally {
      setUploading(false);
      if (fileInput.current) fileInput.current.value = "";
      load();
    }
  }

  if (error && !ticket) {
    return (
      <Card>
        <Alert type="error" showIcon message={error} data-testid="ticket-error" />
        <Link to="/tickets">{t("tk.back")}</Link>
      </Card>
    );
  }
  if (!ticket) return <Spin style={{ display: "block", margin: 48 }} />;

  const actions = allowedActions(user, ticket);
  const dialogActions = actions.filter((a): a is Exclude<Action, "attach"> => a !== "attach");
  const open = ticket.status !== "resolved" && ticket.status !== "closed";
  const start = ticket.received_at;

  return (
    <Space direction="vertical" style={{ width: "100%" }} size={16}>
      <Card
        title={
          <Space wrap>
            <span data-testid="ticket-id">{ticket.id}</span>
            <StatusTag status={ticket.status} testId="ticket-status" />
            <Tag>{label(KIND_LABELS, ticket.kind)}</Tag>
            <Tag data-testid="ticket-tier">{TIER_LABELS[ticket.tier] ?? ticket.tier}</Tag>
            {ticket.reopen_count > 0 && <Tag color="orange">重新处理 {ticket.reopen_count} 次</Tag>}
          </Space>
        }
        extra={
          <Space>
            <Button onClick={load} data-testid="ticket-refresh">{t("tk.refresh")}</Button>
            <Link to="/tickets">{t("tk.back")}</Link>
          </Space>
        }
      >
        <Typography.Title level={5} data-testid="ticket-title" style={{ marginTop: 0 }}>{ticket.title}</Typography.Title>
        <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{ticket.description}</Typography.Paragraph>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} />}
        <div data-testid="ticket-actions">
          <Typography.Text strong>{t("tk.actions")}：</Typography.Text>
          {dialogActions.length === 0 && !actions.includes("attach") ? (
            <Typography.Text type="secondary">{t("tk.noActions")}</Typography.Text>
          ) : (
            <Space wrap style={{ marginTop: 8 }}>
              {dialogActions.map((a) => (
                <Button key={a} type={a === "resolve" || a === "answer" ? "primary" : "default"} onClick={() => setDialog(a)} data-testid={ACTION_TESTID[a]}>
                  {ACTION_TITLES[a]}
                </Button>
              ))}
              {actions.includes("attach") && (
                <Button loading={uploading} onClick={() => fileInput.current?.click()} data-testid="action-attach">
                  {t("tk.upload")}
                </Button>
              )}
            </Space>
          )}
          <input
            ref={fileInput}
            type="file"
            hidden
            aria-label={t("tk.upload")}
            data-testid="attachment-input"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) upload(f);
            }}
          />
        </div>
        {ticket.proposed_answer && (
          <Alert
            type="info"
            showIcon
            style={{ marginTop: 12 }}
            data-testid="proposed-answer"
            message={`${t("tk.proposed")}（${TIER_LABELS[ticket.proposed_answer.tier] ?? ""} ${ticket.proposed_answer.by_name ?? ticket.proposed_answer.by}）`}
            description={ticket.proposed_answer.answer}
          />
        )}
        {ticket.answer && (
          <Alert
            type={ticket.status === "closed" ? "success" : "info"}
            style={{ marginTop: 12 }}
            data-testid="ticket-answer"
            message={`${t("tk.answer")}（${label(CAUSE_LABELS, ticket.cause)}${ticket.knowledge_article_id ? `，知识 ${ticket.knowledge_article_id}` : ""}）`}
            description={<span style={{ whiteSpace: "pre-wrap" }}>{ticket.answer}</span>}
          />
        )}
      </Card>

      <Row gutter={[16, 16]}>
        <Col xs={24} lg={14}>
          <Card title={t("tk.details")} size="small">
            <Descriptions column={{ xs: 1, sm: 2 }} size="small" bordered>
              <Descriptions.Item label={t("tk.product")}>{ticket.product_code}</Descriptions.Item>
              <Descriptions.Item label={t("tk.city")}>{ticket.city}</Descriptions.Item>
              <Descriptions.Item label={t("tk.channel")}>{label(CHANNEL_LABELS, ticket.channel)}</Descriptions.Item>
              <Descriptions.Item label={t("tk.industry")}>{label(INDUSTRY_LABELS, ticket.industry)}</Descriptions.Item>
              <Descriptions.Item label={t("tk.priority")}>{label(PRIORITY_LABELS, ticket.priority)}</Descriptions.Item>
              {ticket.severity != null && <Descriptions.Item label={t("tk.severity")}>{ticket.severity} 级</Descriptions.Item>}
              <Descriptions.Item label={t("tk.assignee")}><span data-testid="ticket-assignee">{ticket.assignee ?? "—"}</span></Descriptions.Item>
              <Descriptions.Item label="升级">
                {ticket.escalation ? `${TIER_LABELS[ticket.escalation.tier]}：${ticket.escalation.target}（${ticket.escalation.reason}）` : "—"}
              </Descriptions.Item>
              <Descriptions.Item label="受理时间">{formatTime(ticket.received_at)}</Descriptions.Item>
              <Descriptions.Item label="建档人">{ticket.filed_by}</Descriptions.Item>
              {ticket.close_reason && <Descriptions.Item label="归档原因">{label(CLOSE_REASONS, ticket.close_reason)}{ticket.merged_into ? ` → ${ticket.merged_into}` : ""}</Descriptions.Item>}
              {ticket.feedback && (
                <Descriptions.Item label="用户反馈">
                  {ticket.feedback.satisfied ? "满意" : "不满意"}
                  {ticket.feedback.score ? `，${ticket.feedback.score} 分` : ""}
                  {ticket.feedback.comment ? `：${ticket.feedback.comment}` : ""}
                </Descriptions.Item>
              )}
            </Descriptions>
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Space direction="vertical" style={{ width: "100%" }} size={16}>
            <Card title="SLA" size="small" data-testid="ticket-sla">
              <Space direction="vertical">
                <Space wrap>
                  {t("tk.respondBy")}：{formatTime(ticket.sla.respond_by)}
                  <DeadlineTag prefix="响应" start={start} deadline={ticket.sla.respond_by} now={now} done={!!ticket.first_response_at} doneAt={ticket.first_response_at} testId="sla-respond" />
                </Space>
                <Space wrap>
                  {t("tk.resolveBy")}：{formatTime(ticket.sla.resolve_by)}
                  {ticket.status === "pending" ? (
                    <Tag>已暂停（待补充）</Tag>
                  ) : (
                    <DeadlineTag prefix="解决" start={start} deadline={ticket.sla.resolve_by} now={now} done={!open} doneAt={ticket.resolved_at ?? ticket.closed_at} testId="sla-resolve" />
                  )}
                </Space>
                {ticket.sla.update_by && open && (
                  <span>{t("tk.updateBy")}：{formatTime(ticket.sla.update_by)}</span>
                )}
                {ticket.sla.breached && <Tag color="error" data-testid="sla-breached">已超时</Tag>}
                {ticket.sla.breaches.length > 0 && (
                  <Typography.Text type="danger">
                    {ticket.sla.breaches.map((b) => `${{ respond: "响应", resolve: "解决", update: "进度通报" }[b.deadline] ?? b.deadline}超时（${formatTime(b.deadline_at)}）`).join("；")}
                  </Typography.Text>
                )}
              </Space>
            </Card>
            <Card title={t("tk.customer")} size="small" data-testid="ticket-customer">
              <Descriptions column={1} size="small">
                <Descriptions.Item label={t("tk.customerName")}>{ticket.customer.name}</Descriptions.Item>
                <Descriptions.Item label={t("tk.contact")}>{ticket.customer.contact ?? "—"}</Descriptions.Item>
                <Descriptions.Item label={t("tk.groupName")}>{ticket.customer.group_name}</Descriptions.Item>
                <Descriptions.Item label={t("tk.groupCode")}>{ticket.customer.group_code ?? "—"}</Descriptions.Item>
              </Descriptions>
            </Card>
          </Space>
        </Col>
      </Row>

      <Row gutter={[16, 16]}>
        <Col xs={24} lg={12}>
          <Card title={t("tk.history")} size="small" data-testid="ticket-history">
            {historyError && <Alert type="error" showIcon message={historyError} />}
            <Timeline
              items={history.map((h, i) => ({
                key: i,
                color: h.action === "sla_breached" ? "red" : h.action === "feedback" || h.action === "resolve" ? "green" : "blue",
                children: (
                  <div data-testid={`history-${h.action}`}>
                    <Typography.Text strong>{label(ACTION_LABELS, h.action)}</Typography.Text>{" "}
                    <Typography.Text type="secondary">
                      {formatTime(h.at)} · {h.actor_name ?? h.actor}
                      {h.from_status && h.from_status !== h.to_status ? ` · ${label(STATUS_LABELS, h.from_status)} → ${label(STATUS_LABELS, h.to_status)}` : ""}
                    </Typography.Text>
                    {detailText(h) && <div>{detailText(h)}</div>}
                  </div>
                ),
              }))}
            />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Space direction="vertical" style={{ width: "100%" }} size={16}>
            <Card title={t("tk.notes")} size="small" data-testid="ticket-notes">
              {ticket.notes.length === 0 && ticket.pauses.length === 0 ? (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
              ) : (
                <List
                  size="small"
                  dataSource={[
                    ...ticket.notes.map((n) => ({ at: n.at, who: n.author, tag: n.visibility === "requester" ? "向用户通报" : "内部", body: n.body })),
                    ...ticket.pauses.flatMap((p) => [
                      { at: p.start, who: "", tag: "待补充", body: p.needed },
                      ...(p.reply && p.end ? [{ at: p.end, who: "", tag: "用户补充", body: p.reply }] : []),
                    ]),
                  ].sort((a, b) => a.at.localeCompare(b.at))}
                  renderItem={(n) => (
                    <List.Item>
                      <List.Item.Meta
                        title={<Space><Tag>{n.tag}</Tag><Typography.Text type="secondary">{formatTime(n.at)} {n.who}</Typography.Text></Space>}
                        description={<span style={{ whiteSpace: "pre-wrap" }}>{n.body}</span>}
                      />
                    </List.Item>
                  )}
                />
              )}
            </Card>
            <Card title={t("tk.attachments")} size="small" data-testid="ticket-attachments">
              {ticket.attachments.length === 0 ? (
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
              ) : (
                <List
                  size="small"
                  dataSource={ticket.attachments}
                  renderItem={(a) => (
                    <List.Item
                      actions={[
                        <Button
                          key="d"
                          size="small"
                          data-testid={`attachment-download-${a.id}`}
                          onClick={() => download(ticket.id, a).catch((e) => message.error(`下载失败：${e instanceof ApiError ? e.message : describeProblem(0, {})}`))}
                        >
                          {t("tk.download")}
                        </Button>,
                      ]}
                    >
                      {a.filename}（{formatSize(a.size)}）
                    </List.Item>
                  )}
                />
              )}
            </Card>
          </Space>
        </Col>
      </Row>

      {dialog && (
        <ActionDialog
          action={dialog}
          ticket={ticket}
          onRefresh={load}
          onClose={(changed) => {
            setDialog(null);
            if (changed) message.success(t("tk.done"));
            load();
          }}
        />
      )}
    </Space>
  );
}
