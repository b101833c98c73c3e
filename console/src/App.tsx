// The console's frame: the side menu (what the signed-in role works with), the header (who, language, sign out)
// and the routes of each area. Each area lives in its own folder under pages/.
import { AppstoreOutlined, BookOutlined, DashboardOutlined, ProfileOutlined } from "@ant-design/icons";
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Space, Typography } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { useState } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { AuthProvider, useAuth } from "./lib/auth";
import { LangProvider, useLang } from "./lib/i18n";
import { cachedConfig, signOutAtIdp } from "./lib/oidc";
import { THEME } from "./lib/theme";
import DashboardPages from "./pages/dashboard";
import KnowledgePages from "./pages/knowledge";
import LifecyclePages from "./pages/lifecycle";
import SignIn from "./pages/SignIn";
import TicketsPages from "./pages/tickets";

function Frame() {
  const { user, signOut } = useAuth();
  const { t, lang, setLang } = useLang();
  const navigate = useNavigate();
  const location = useLocation();
  const [folded, setFolded] = useState(false);
  if (!user) return <SignIn />;
  const section = "/" + (location.pathname.split("/")[1] || "tickets");
  const items = [
    { key: "/tickets", icon: <ProfileOutlined />, label: t("tickets") },
    { key: "/knowledge", icon: <BookOutlined />, label: t("knowledge") },
    { key: "/lifecycle", icon: <AppstoreOutlined />, label: t("lifecycle") },
    { key: "/dashboard", icon: <DashboardOutlined />, label: t("dashboard") },
  ];
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Sider breakpoint="lg" collapsedWidth={56} theme="dark" onCollapse={setFolded}>
        <div style={{ color: "#fff", padding: "16px 12px", fontWeight: 600, fontSize: 14 }} title={t("appTitle")}>
          {folded ? t("appShortTitle") : t("appTitle")}
        </div>
        <Menu theme="dark" mode="inline" selectedKeys={[section]} items={items} onClick={(e) => navigate(e.key)} />
      </Layout.Sider>
      <Layout>
        <Layout.Header style={{ background: "#fff", display: "flex", justifyContent: "flex-end", paddingInline: 16 }}>
          <Space>
            <Typography.Text data-testid="current-user">
              {user.name ?? user.sub}（{user.roles.join("、")}）
            </Typography.Text>
            <Button onClick={() => setLang(lang === "zh" ? "en" : "zh")}>{t("language")}</Button>
            <Button
              onClick={() => {
                signOut();
                void signOutAtIdp(cachedConfig()); // with OIDC, the identity provider's session ends too
              }}
              data-testid="sign-out"
            >
              {t("signOut")}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content style={{ padding: 16 }}>
          <Routes>
            <Route path="/" element={<Navigate to="/tickets" replace />} />
            <Route path="/tickets/*" element={<TicketsPages />} />
            <Route path="/knowledge/*" element={<KnowledgePages />} />
            <Route path="/lifecycle/*" element={<LifecyclePages />} />
            <Route path="/dashboard/*" element={<DashboardPages />} />
            <Route path="*" element={<Navigate to="/tickets" replace />} />
          </Routes>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

function Localised() {
  const { lang } = useLang();
  dayjs.locale(lang === "zh" ? "zh-cn" : "en");
  return (
    <ConfigProvider locale={lang === "zh" ? zhCN : enUS} theme={THEME}>
      <AntApp>
        <Frame />
      </AntApp>
    </ConfigProvider>
  );
}

export default function App() {
  return (
    <LangProvider>
      <AuthProvider>
        <Localised />
      </AuthProvider>
    </LangProvider>
  );
}
