// The tickets pages: routes under /tickets (see App.tsx). Built in pages/tickets/ only.
import { Route, Routes } from "react-router-dom";
import NewTicket from "./NewTicket";
import Queue from "./Queue";
import TicketPage from "./TicketPage";

export default function TicketsPages() {
  return (
    <Routes>
      <Route index element={<Queue />} />
      <Route path="new" element={<NewTicket />} />
      <Route path=":id" element={<TicketPage />} />
      <Route path="*" element={<Queue />} />
    </Routes>
  );
}
