// Sign-in. Locally, a development identity page: pick a role (and a city, products or vendor) and the gateway
// issues a token signed with the development secret (POST /dev/token answers only while that secret is in use).
// In production the console signs in with OIDC (authorization code + PKCE) instead.
import { Alert, Button, Card, Form, Input, Select, Typography } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { useAuth } from "../lib/auth";

export const ROLES: { value: string; label: string }[] = [
  { value: "agent", label: "客服支撑人员 agent" },
  { value: "complaint_handler", label: "投诉处理员 complaint_handler" },
  { value: "ops_engineer", label: "运维人员 ops_engineer" },
  { value: "product_manager", label: "产品经理 product_manager" },
  { value: "vendor", label: "厂家 vendor" },
  { value: "account_manager", label: "地市公司客户经理 account_manager" },
  { value: "analyst", label: "数据分析员 analyst" },
  { value: "admin", label: "管理员 admin" },
];

export default function SignIn() {
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(values: { sub: string; name?: string; role: string; city?: string; products?: string; vendor?: string }) {
    setBusy(true);
    setError(null);
    try {
      const response = await fetch("/dev/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          sub: values.sub,
          name: values.name || undefined,
          roles: [values.role],
          city: values.city || undefined,
          products: values.products ? values.products.split(/[,，\s]+/).filter(Boolean) : undefined,
          vendor: values.vendor || undefined,
        }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.detail ?? body.title ?? `HTTP ${response.status}`);
      signIn(body.token);
      navigate("/tickets");
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div style={{ display: "flex", justifyContent: "center", padding: "48px 16px" }}>
      <Card style={{ width: 440, maxWidth: "100%" }} title="登录（本地开发身份）">
        <Typography.Paragraph type="secondary">
          仅在使用开发密钥时可用；生产环境通过统一身份认证（OIDC）登录。
        </Typography.Paragraph>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} />}
        <Form layout="vertical" onFinish={submit} initialValues={{ role: "agent", sub: "agent-01" }}>
          <Form.Item name="role" label="角色" rules={[{ required: true }]}>
            <Select options={ROLES} aria-label="角色" data-testid="signin-role" />
          </Form.Item>
          <Form.Item name="sub" label="工号" rules={[{ required: true, message: "请输入工号" }]}>
            <Input aria-label="工号" />
          </Form.Item>
          <Form.Item name="name" label="姓名">
            <Input aria-label="姓名" />
          </Form.Item>
          <Form.Item name="city" label="地市（客户经理）">
            <Input aria-label="地市" placeholder="如 济南" />
          </Form.Item>
          <Form.Item name="products" label="负责产品（产品经理，逗号分隔）">
            <Input aria-label="负责产品" placeholder="如 mobile_office" />
          </Form.Item>
          <Form.Item name="vendor" label="厂家编号（厂家）">
            <Input aria-label="厂家编号" placeholder="如 vendor-05" />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={busy} block>
            登录
          </Button>
        </Form>
      </Card>
    </div>
  );
}
