// The knowledge pages: routes under /knowledge (see App.tsx). Built in pages/knowledge/ only.
import { Result } from "antd";
import { Route, Routes } from "react-router-dom";

export default function KnowledgePages() {
  return (
    <Routes>
      <Route path="*" element={<Result status="info" title="knowledge" subTitle="建设中" />} />
    </Routes>
  );
}
