// The lifecycle pages: routes under /lifecycle (see App.tsx). Built in pages/lifecycle/ only.
//   /lifecycle              the board (portfolio)      /lifecycle/maintenance  inspections, changes, faults
//   /lifecycle/:code        a product's (or platform's) page
import { Tabs } from "antd";
import { Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { useLang } from "../../lib/i18n";
import Board from "./Board";
import Maintenance from "./Maintenance";
import ProductPage from "./ProductPage";
import "./words";

function Home() {
  const { t } = useLang();
  const navigate = useNavigate();
  const location = useLocation();
  const tab = location.pathname.startsWith("/lifecycle/maintenance") ? "maintenance" : "board";
  return (
    <Tabs
      activeKey={tab}
      destroyInactiveTabPane
      onChange={(key) => navigate(key === "board" ? "/lifecycle" : "/lifecycle/maintenance")}
      items={[
        { key: "board", label: t("lc.board"), children: <Board /> },
        { key: "maintenance", label: t("lc.maintenance"), children: <Maintenance /> },
      ]}
    />
  );
}

export default function LifecyclePages() {
  return (
    <Routes>
      <Route path="maintenance" element={<Home />} />
      <Route path=":code" element={<ProductPage />} />
      <Route path="*" element={<Home />} />
    </Routes>
  );
}
