// The tickets pages: routes under /tickets (see App.tsx). Built in pages/tickets/ only.
import { Result } from "antd";
import { Route, Routes } from "react-router-dom";

export default function TicketsPages() {
  return (
    <Routes>
      <Route path="*" element={<Result status="info" title="tickets" subTitle="建设中" />} />
    </Routes>
  );
}
