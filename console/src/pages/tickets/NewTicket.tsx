// 新建工单 (/tickets/new): POST /v1/tickets with an Idempotency-Key, so that a double click or a retry after a
// lost answer files one ticket. The key is kept for as long as the form's content is the same.
import { Alert, App, Button, Card, Col, Form, Input, List, Radio, Row, Select, Space } from "antd";
import { useMemo, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import { useProducts, type Ticket } from "./common";
import { CHANNEL_LABELS, CITIES, INDUSTRY_LABELS, KINDS, KIND_LABELS, PRIORITY_LABELS, idempotencyKey } from "./logic";
import "./words";
import { FormRadioGroup, FormSelect } from "../../lib/formControls";

interface Values {
  kind: string;
  channel: string;
  product_code: string;
  city: string;
  industry?: string;
  priority?: string;
  severity?: number;
  title: string;
  description: string;
  customer: { name: string; contact?: string; group_name: string; group_code?: string };
}

type Opened = Ticket & { possible_duplicates?: { id: string; title: string; similarity: number }[] };

export default function NewTicket() {
  const { user } = useAuth();
  const { t } = useLang();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const products = useProducts();
  const [form] = Form.useForm<Values>();
  const kind = Form.useWatch("kind", form);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [opened, setOpened] = useState<Opened | null>(null);
  const key = useRef<{ body: string; key: string } | null>(null);
  const cityFixed = !!user?.roles.includes("account_manager") && !user.roles.some((r) => ["agent", "complaint_handler", "ops_engineer", "admin", "intake"].includes(r));
  const initial = useMemo(
    () => ({ kind: "complaint", channel: cityFixed ? "account_manager" : "call_center", priority: "normal", city: user?.city }),
    [cityFixed, user?.city],
  );

  async function submit(values: Values) {
    const body = {
      ...values,
      severity: values.kind === "fault" ? values.severity ?? 3 : undefined,
      customer: Object.fromEntries(Object.entries(values.customer).filter(([, v]) => v !== undefined && v !== "")),
    };
    const text = JSON.stringify(body);
    if (!key.current || key.current.body !== text) key.current = { body: text, key: idempotencyKey() };
    setBusy(true);
    setError(null);
    try {
      const ticket = await api<Opened>("ticketing", "/v1/tickets", {
        method: "POST",
        body,
        headers: { "Idempotency-Key": key.current.key },
      });
      message.success(`${t("tk.created")}：${ticket.id}`);
      if (ticket.possible_duplicates?.length) setOpened(ticket);
      else navigate(`/tickets/${encodeURIComponent(ticket.id)}`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  if (opened) {
    return (
      <Card title={`${t("tk.created")}：${opened.id}`}>
        <Alert type="warning" showIcon message={t("tk.duplicates")} style={{ marginBottom: 12 }} />
        <List
          dataSource={opened.possible_duplicates}
          renderItem={(d) => (
            <List.Item>
              <Link to={`/tickets/${encodeURIComponent(d.id)}`}>{d.id}</Link> {d.title}（相似度 {Math.round(d.similarity * 100)}%）
            </List.Item>
          )}
        />
        <Button type="primary" onClick={() => navigate(`/tickets/${encodeURIComponent(opened.id)}`)} data-testid="new-ticket-open">
          打开 {opened.id}
        </Button>
      </Card>
    );
  }

  return (
    <Card title={t("tk.new")} extra={<Link to="/tickets">{t("tk.back")}</Link>}>
      <Form<Values> form={form} layout="vertical" initialValues={initial} onFinish={submit} data-testid="new-ticket-form">
        <Row gutter={16}>
          <Col xs={24} md={12}>
            <Form.Item name="kind" label={t("tk.kind")} rules={[{ required: true }]}>
              <FormRadioGroup optionType="button">
                {KINDS.map((k) => (
                  <Radio.Button key={k} value={k} data-testid={`new-kind-${k}`}>{KIND_LABELS[k]}</Radio.Button>
                ))}
              </FormRadioGroup>
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name="channel" label={t("tk.channel")} rules={[{ required: true }]}>
              <FormSelect data-testid="new-channel" options={Object.entries(CHANNEL_LABELS).map(([value, l]) => ({ value, label: l }))} />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name="product_code" label={t("tk.product")} rules={[{ required: true, message: "请选择或填写产品" }]}>
              {products.length ? (
                <FormSelect showSearch optionFilterProp="label" options={products} data-testid="new-product" />
              ) : (
                <Input placeholder="产品编码，如 mobile_office" data-testid="new-product" />
              )}
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name="city" label={t("tk.city")} rules={[{ required: true, message: "请选择地市" }]}>
              <FormSelect showSearch disabled={cityFixed} data-testid="new-city" options={CITIES.map((c) => ({ value: c, label: c }))} />
            </Form.Item>
          </Col>
          <Col xs={12} md={8}>
            <Form.Item name="industry" label={t("tk.industry")}>
              <Select allowClear data-testid="new-industry" options={Object.entries(INDUSTRY_LABELS).map(([value, l]) => ({ value, label: l }))} />
            </Form.Item>
          </Col>
          <Col xs={12} md={8}>
            <Form.Item name="priority" label={t("tk.priority")}>
              <Select data-testid="new-priority" options={Object.entries(PRIORITY_LABELS).map(([value, l]) => ({ value, label: l }))} />
            </Form.Item>
          </Col>
          {kind === "fault" && (
            <Col xs={12} md={8}>
              <Form.Item name="severity" label={t("tk.severity")} initialValue={3}>
                <FormRadioGroup optionType="button">
                  {[1, 2, 3].map((s) => (
                    <Radio.Button key={s} value={s} data-testid={`new-severity-${s}`}>{s} 级</Radio.Button>
                  ))}
                </FormRadioGroup>
              </Form.Item>
            </Col>
          )}
          <Col xs={24}>
            <Form.Item name="title" label={t("tk.title")} rules={[{ required: true, message: "请填写标题" }, { max: 200 }]}>
              <Input data-testid="new-title" />
            </Form.Item>
          </Col>
          <Col xs={24}>
            <Form.Item name="description" label={t("tk.description")} rules={[{ required: true, message: "请填写问题描述" }, { max: 10000 }]}>
              <Input.TextArea rows={4} data-testid="new-description" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name={["customer", "name"]} label={t("tk.customerName")} rules={[{ required: true, message: "请填写客户姓名" }]}>
              <Input data-testid="new-customer-name" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name={["customer", "contact"]} label={t("tk.contact")}>
              <Input data-testid="new-customer-contact" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name={["customer", "group_name"]} label={t("tk.groupName")} rules={[{ required: true, message: "请填写集团名称" }]}>
              <Input data-testid="new-customer-group" />
            </Form.Item>
          </Col>
          <Col xs={24} md={12}>
            <Form.Item name={["customer", "group_code"]} label={t("tk.groupCode")}>
              <Input data-testid="new-customer-group-code" />
            </Form.Item>
          </Col>
        </Row>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} data-testid="new-ticket-error" />}
        <Space>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="new-ticket-submit">{t("tk.submit")}</Button>
          <Button onClick={() => navigate("/tickets")}>{t("tk.cancel")}</Button>
        </Space>
      </Form>
    </Card>
  );
}
