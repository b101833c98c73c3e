// The dashboard pages: routes under /dashboard (see App.tsx). Built in pages/dashboard/ only.
import { Route, Routes } from "react-router-dom";
import Dashboard from "./Dashboard";

export default function DashboardPages() {
  return (
    <Routes>
      <Route path="*" element={<Dashboard />} />
    </Routes>
  );
}
