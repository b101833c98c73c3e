// The lifecycle pages: routes under /lifecycle (see App.tsx). Built in pages/lifecycle/ only.
import { Result } from "antd";
import { Route, Routes } from "react-router-dom";

export default function LifecyclePages() {
  return (
    <Routes>
      <Route path="*" element={<Result status="info" title="lifecycle" subTitle="建设中" />} />
    </Routes>
  );
}
