// Sign-in. Locally, a development identity page: pick a role (and a city, products or vendor) and the gateway
// issues a token signed with the development secret (POST /dev/token answers only while that secret is in use).
// In production the console signs in with OIDC (authorization code + PKCE, lib/oidc.ts) instead: when
// /console-config.json names an issuer, this page offers only the identity provider's sign-in and completes its
// redirect back (the callback path renders this page, since no one is signed in yet).
import { Alert, Button, Card, Form, Input, Select, Spin, Typography } from "antd";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useAuth } from "../lib/auth";
import { useLang, words } from "../lib/i18n";
import { finishSignIn, isCallback, isOidc, loadConfig, startSignIn, type ConsoleConfig } from "../lib/oidc";

words({
  oidcTitle: { zh: "登录", en: "Sign in" },
  oidcHint: { zh: "请使用统一身份认证账号登录。", en: "Sign in with your single sign-on account." },
  oidcButton: { zh: "统一身份认证登录", en: "Sign in with SSO" },
  oidcFinishing: { zh: "正在完成登录…", en: "Completing sign-in…" },
});

// The IdP's redirect back is completed once, even when React runs the effect twice (StrictMode).
let callback: Promise<{ token: string; returnTo: string }> | null = null;

function OidcSignIn({ config }: { config: ConsoleConfig & { issuer: string; client_id: string } }) {
  const { signIn } = useAuth();
  const { t } = useLang();
  const navigate = useNavigate();
  const returning = isCallback(config);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(returning);

  useEffect(() => {
    if (!returning) return;
    callback ??= finishSignIn(config);
    callback
      .then(({ token, returnTo }) => {
        signIn(token);
        navigate(returnTo, { replace: true });
      })
      .catch((e: Error) => {
        callback = null;
        setError(e.message || "登录失败");
        setBusy(false);
        navigate("/", { replace: true });
      });
  }, [returning]); // eslint-disable-line react-hooks/exhaustive-deps

  async function go() {
    setBusy(true);
    setError(null);
    try {
      const here = window.location.pathname + window.location.search;
      await startSignIn(config, here === "/" || isCallback(config) ? "/tickets" : here);
    } catch (e) {
      setError(`无法连接统一身份认证：${(e as Error).message}`);
      setBusy(false);
    }
  }

  return (
    <div style={{ display: "flex", justifyContent: "center", padding: "48px 16px" }}>
      <Card style={{ width: 440, maxWidth: "100%" }} title={t("oidcTitle")} data-testid="oidc-sign-in-card">
        <Typography.Paragraph type="secondary">
          {returning && busy ? t("oidcFinishing") : t("oidcHint")}
        </Typography.Paragraph>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="sign-in-error" />}
        <Button type="primary" block loading={busy} onClick={go} data-testid="oidc-sign-in">
          {t("oidcButton")}
        </Button>
      </Card>
    </div>
  );
}

export default function SignIn() {
  // undefined: /console-config.json not read yet; null or {}: the development sign-in.
  const [config, setConfig] = useState<ConsoleConfig | null | undefined>(undefined);
  useEffect(() => {
    loadConfig().then(setConfig);
  }, []);
  if (config === undefined) {
    return (
      <div style={{ display: "flex", justifyContent: "center", padding: 48 }}>
        <Spin aria-label="加载中" />
      </div>
    );
  }
  return isOidc(config) ? <OidcSignIn config={config} /> : <DevSignIn />;
}

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

function DevSignIn() {
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
      <Card style={{ width: 440, maxWidth: "100%" }} title="登录（本地开发身份）" data-testid="dev-sign-in-card">
        <Typography.Paragraph type="secondary">
          仅在使用开发密钥时可用；生产环境通过统一身份认证（OIDC）登录。
        </Typography.Paragraph>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="sign-in-error" />}
        <Form layout="vertical" onFinish={submit} initialValues={{ role: "agent", sub: "agent-01" }}>
          <Form.Item name="role" label="角色">
            <Select options={ROLES} aria-label="角色" data-testid="dev-sign-in-role" />
          </Form.Item>
          <Form.Item name="sub" label="工号" rules={[{ required: true, message: "请输入工号" }]}>
            <Input aria-label="工号" data-testid="dev-sign-in-sub" />
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
          <Button type="primary" htmlType="submit" loading={busy} block data-testid="dev-sign-in-submit">
            登录
          </Button>
        </Form>
      </Card>
    </div>
  );
}
