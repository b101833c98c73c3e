// The dashboard pages: routes under /dashboard (see App.tsx). Built in pages/dashboard/ only.
import { Result } from "antd";
import { Route, Routes } from "react-router-dom";

export default function DashboardPages() {
  return (
    <Routes>
      <Route path="*" element={<Result status="info" title="dashboard" subTitle="建设中" />} />
    </Routes>
  );
}
