// One article (GET /v1/articles/{id}?version=): its content, actions by state and role (edit → the editor,
// publish / archive with If-Match and an optional note), the versions it keeps, and a readable diff of two of them
// (GET /v1/articles/{id}/diff?from=&to=).
import { App, Alert, Button, Card, Col, Descriptions, Form, Input, Modal, Row, Select, Space, Spin, Table, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import type { Article } from "./Articles";
import { AUDIENCE_LABELS, STATE_LABELS, TYPE_LABELS, articleActions, diffLines, label, lineChange, pairChanges, type DiffLine } from "./logic";
import "./words";

interface FieldDiff {
  changed: boolean;
  from: any;
  to: any;
  added?: string[];
  removed?: string[];
}

interface Diff {
  fields: {
    title: FieldDiff;
    tags: FieldDiff;
    audience: FieldDiff;
    state: FieldDiff;
    body: { changed: boolean; unified: string };
  };
}

const LINE_STYLE: Record<string, React.CSSProperties> = {
  header: { color: "#595959" },
  hunk: { color: "#1565c0", background: "#e3f2fd" },
  context: {},
  added: { background: "#e6ffed" },
  removed: { background: "#ffeef0", textDecoration: "line-through" },
};
const LINE_SIGN: Record<string, string> = { header: "", hunk: "", context: "  ", added: "+ ", removed: "- " };

// A changed line shows which words changed: the removed ones struck through on its old line, the added ones marked
// on its new line (the rest of the line is as before).
function ChangedWords({ line, other }: { line: DiffLine; other: DiffLine }) {
  const removing = line.kind === "removed";
  const c = removing ? lineChange(line.text, other.text) : lineChange(other.text, line.text);
  const words = removing ? c.removed : c.added;
  return (
    <>
      {c.before}
      {words && (removing
        ? <del style={{ background: "#fdb8c0" }} data-testid="diff-removed-words">{words}</del>
        : <ins style={{ background: "#acf2bd", textDecoration: "none" }} data-testid="diff-added-words">{words}</ins>)}
      {c.after}
    </>
  );
}

export function DiffView({ diff }: { diff: Diff }) {
  const { t, lang } = useLang();
  const f = diff.fields;
  const bodyLines = diffLines(f.body.unified);
  const pairs = pairChanges(bodyLines);
  const pair = (name: string, d: FieldDiff, show: (v: any) => string = String) => (
    <Descriptions.Item label={name}>
      {d.changed ? (
        <span>
          <del style={{ background: "#ffeef0" }}>{show(d.from)}</del> → <ins style={{ background: "#e6ffed" }}>{show(d.to)}</ins>
        </span>
      ) : (
        <Typography.Text type="secondary">{t("kn.unchanged")}</Typography.Text>
      )}
    </Descriptions.Item>
  );
  return (
    <div data-testid="article-diff">
      <Descriptions size="small" column={1} bordered>
        {pair(t("kn.title"), f.title)}
        {pair(t("kn.audience"), f.audience, (v) => label(AUDIENCE_LABELS, v, lang))}
        {pair(t("kn.state"), f.state, (v) => label(STATE_LABELS, v, lang))}
        <Descriptions.Item label={t("kn.tags")}>
          {f.tags.changed ? (
            <Space wrap>
              {(f.tags.added ?? []).map((x) => <Tag color="green" key={"a" + x}>+ {x}</Tag>)}
              {(f.tags.removed ?? []).map((x) => <Tag color="red" key={"r" + x}>- {x}</Tag>)}
            </Space>
          ) : (
            <Typography.Text type="secondary">{t("kn.unchanged")}</Typography.Text>
          )}
        </Descriptions.Item>
      </Descriptions>
      <Typography.Title level={5} style={{ marginTop: 12 }}>{t("kn.body")}</Typography.Title>
      {f.body.changed ? (
        <pre style={{ whiteSpace: "pre-wrap", fontSize: 13, border: "1px solid #eee", padding: 8 }} data-testid="article-diff-body">
          {bodyLines.map((l, i) => (
            <div key={i} style={LINE_STYLE[l.kind]}>
              {LINE_SIGN[l.kind]}
              {pairs[i] !== null ? <ChangedWords line={l} other={bodyLines[pairs[i]!]} /> : l.text}
            </div>
          ))}
        </pre>
      ) : (
        <Typography.Text type="secondary">{t("kn.unchanged")}</Typography.Text>
      )}
    </div>
  );
}

export default function ArticlePage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const version = params.get("version");
  const navigate = useNavigate();
  const { t, lang } = useLang();
  const { user } = useAuth();
  const { message } = App.useApp();
  const [article, setArticle] = useState<Article | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [acting, setActing] = useState<null | "publish" | "archive">(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [from, setFrom] = useState<number | undefined>();
  const [to, setTo] = useState<number | undefined>();
  const [diff, setDiff] = useState<Diff | null>(null);
  const [diffError, setDiffError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const a = await api<Article>("knowledge", `/v1/articles/${encodeURIComponent(id)}`, { query: { version } });
      setArticle(a);
      if (a.versions.length >= 2) {
        setFrom((f) => f ?? a.versions[a.versions.length - 2].version);
        setTo((x) => x ?? a.versions[a.versions.length - 1].version);
      }
    } catch (e: any) {
      setError(e.message);
    }
  }, [id, version]);

  useEffect(() => {
    load();
  }, [load]);

  const act = async () => {
    if (!article || !acting) return;
    setBusy(true);
    try {
      // If-Match names the latest version (the one every change is based on), not a past one being viewed.
      await api("knowledge", `/v1/articles/${encodeURIComponent(id)}/${acting}`, {
        method: "POST",
        body: note.trim() ? { note: note.trim() } : {},
        headers: { "If-Match": `"${article.latest_version}"` },
      });
      message.success(t(acting === "publish" ? "kn.published" : "kn.archived"));
      setActing(null);
      setNote("");
      setParams({});
      await load();
    } catch (e: any) {
      message.error(e.message);
    } finally {
      setBusy(false);
    }
  };

  const compare = async () => {
    if (!from || !to) return;
    setDiffError(null);
    try {
      setDiff(await api<Diff>("knowledge", `/v1/articles/${encodeURIComponent(id)}/diff`, { query: { from, to } }));
    } catch (e: any) {
      setDiff(null);
      setDiffError(e.message);
    }
  };

  if (error)
    return (
      <Space direction="vertical">
        <Alert type="error" showIcon message={error} data-testid="article-error" />
        <Link to="/knowledge/articles">{t("kn.back")}</Link>
      </Space>
    );
  if (!article) return <Spin />;
  const past = article.version !== article.latest_version;
  const actions = user && !past ? articleActions(article.state, user, article.product_code) : [];
  const versionOptions = article.versions.map((v) => ({ value: v.version, label: `v${v.version}` }));

  return (
    <Space direction="vertical" style={{ width: "100%" }} size="middle">
      <Space wrap>
        <Button onClick={() => navigate("/knowledge/articles")}>{t("kn.back")}</Button>
        {actions.includes("edit") && (
          <Button type="primary" onClick={() => navigate(`/knowledge/articles/${id}/edit`)} data-testid="action-edit">
            {t("kn.edit")}
          </Button>
        )}
        {actions.includes("publish") && (
          <Button onClick={() => setActing("publish")} data-testid="action-publish">{t("kn.publish")}</Button>
        )}
        {actions.includes("archive") && (
          <Button danger onClick={() => setActing("archive")} data-testid="action-archive">{t("kn.archive")}</Button>
        )}
      </Space>
      {past && (
        <Alert type="info" showIcon message={`${t("kn.oldVersion")} v${article.version}（${t("kn.latest")} v${article.latest_version}）`}
          action={<Button size="small" onClick={() => setParams({})}>{t("kn.latest")}</Button>} />
      )}
      <Card
        title={<span data-testid="article-title">{article.title}</span>}
        extra={<Tag color={STATE_LABELS[article.state]?.color} data-testid="article-state">{label(STATE_LABELS, article.state, lang)}</Tag>}
      >
        <Descriptions size="small" column={{ xs: 1, sm: 2, md: 3 }}>
          <Descriptions.Item label={t("kn.id")}>{article.id}</Descriptions.Item>
          <Descriptions.Item label={t("kn.type")}>{label(TYPE_LABELS, article.type, lang)}</Descriptions.Item>
          <Descriptions.Item label={t("kn.product")}>{article.product_code ?? t("kn.general")}</Descriptions.Item>
          <Descriptions.Item label={t("kn.audience")}>{label(AUDIENCE_LABELS, article.audience, lang)}</Descriptions.Item>
          <Descriptions.Item label={t("kn.version")}>v{article.version}</Descriptions.Item>
          <Descriptions.Item label={t("kn.reuse")}>{article.reuse_count}</Descriptions.Item>
          <Descriptions.Item label={t("kn.tags")}>{article.tags.map((x) => <Tag key={x}>{x}</Tag>)}</Descriptions.Item>
        </Descriptions>
        <Typography.Paragraph style={{ whiteSpace: "pre-wrap", marginTop: 12 }} data-testid="article-body">
          {article.body}
        </Typography.Paragraph>
      </Card>
      <Card title={t("kn.versions")} size="small">
        <Table
          rowKey="version"
          size="small"
          pagination={false}
          scroll={{ x: 600 }}
          dataSource={[...article.versions].reverse()}
          columns={[
            { title: t("kn.version"), dataIndex: "version", width: 70, render: (v) => `v${v}` },
            { title: t("kn.state"), dataIndex: "state", width: 90, render: (v) => label(STATE_LABELS, v, lang) },
            { title: t("kn.audience"), dataIndex: "audience", width: 100, render: (v) => label(AUDIENCE_LABELS, v, lang) },
            { title: t("kn.changedBy"), dataIndex: "changed_by", width: 120 },
            { title: t("kn.changedAt"), dataIndex: "changed_at", width: 150, render: (v) => dayjs(v).format("YYYY-MM-DD HH:mm") },
            { title: t("kn.note"), dataIndex: "note" },
            {
              title: t("kn.actions"), width: 80,
              render: (_, v) => (
                <Button type="link" size="small" data-testid={`version-view-${v.version}`}
                  onClick={() => setParams(v.version === article.latest_version ? {} : { version: String(v.version) })}>
                  {t("kn.viewVersion")}
                </Button>
              ),
            },
          ]}
        />
        {article.versions.length >= 2 && (
          <Row gutter={[8, 8]} align="middle" style={{ marginTop: 12 }}>
            <Col><Typography.Text strong>{t("kn.diff")}</Typography.Text></Col>
            <Col>
              <Select aria-label={t("kn.from")} style={{ width: 100 }} value={from} onChange={setFrom} options={versionOptions} data-testid="diff-from" />
            </Col>
            <Col>→</Col>
            <Col>
              <Select aria-label={t("kn.to")} style={{ width: 100 }} value={to} onChange={setTo} options={versionOptions} data-testid="diff-to" />
            </Col>
            <Col><Button onClick={compare} data-testid="diff-compare">{t("kn.compare")}</Button></Col>
          </Row>
        )}
        {diffError && <Alert type="error" showIcon message={diffError} style={{ marginTop: 8 }} />}
        {diff && <div style={{ marginTop: 12 }}><DiffView diff={diff} /></div>}
      </Card>
      <Modal
        open={!!acting}
        title={acting ? t(acting === "publish" ? "kn.publish" : "kn.archive") : ""}
        onCancel={() => setActing(null)}
        footer={acting && [
          <Button key="c" onClick={() => setActing(null)}>{t("kn.cancel")}</Button>,
          <Button key="s" type="primary" danger={acting === "archive"} loading={busy} onClick={act} data-testid="dialog-submit">
            {acting ? t(acting === "publish" ? "kn.publish" : "kn.archive") : ""}
          </Button>,
        ]}
      >
        <Form layout="vertical">
          <Form.Item label={t("kn.note")}>
            <Input.TextArea value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} rows={3} data-testid="dialog-note" />
          </Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}
