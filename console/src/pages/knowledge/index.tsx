// The knowledge pages: routes under /knowledge (see App.tsx). Built in pages/knowledge/ only.
//   /knowledge            search            /knowledge/articles        the article list
//   /knowledge/articles/new, /:id, /:id/edit /knowledge/candidates      /knowledge/faq  the monthly FAQ
import { Tabs } from "antd";
import { Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { useAuth } from "../../lib/auth";
import { useLang } from "../../lib/i18n";
import ArticlePage from "./ArticlePage";
import Articles from "./Articles";
import Candidates from "./Candidates";
import Editor from "./Editor";
import Faq from "./Faq";
import Search from "./Search";
import "./words";

const CANDIDATE_READERS = ["agent", "complaint_handler", "product_manager", "analyst"];
const FAQ_READERS = ["agent", "ops_engineer", "complaint_handler", "product_manager", "analyst", "account_manager"];

function Home() {
  const { t } = useLang();
  const { has } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const tab = location.pathname.split("/")[2] || "search";
  const items = [
    { key: "search", label: t("kn.search"), children: <Search /> },
    { key: "articles", label: t("kn.articles"), children: <Articles /> },
    ...(has(...CANDIDATE_READERS) ? [{ key: "candidates", label: t("kn.candidates"), children: <Candidates /> }] : []),
    ...(has(...FAQ_READERS) ? [{ key: "faq", label: t("kn.faq"), children: <Faq /> }] : []),
  ];
  return (
    <Tabs
      activeKey={tab}
      items={items}
      destroyInactiveTabPane
      onChange={(key) => navigate(key === "search" ? "/knowledge" : `/knowledge/${key}`)}
    />
  );
}

export default function KnowledgePages() {
  return (
    <Routes>
      <Route path="articles/new" element={<Editor />} />
      <Route path="articles/:id/edit" element={<Editor />} />
      <Route path="articles/:id" element={<ArticlePage />} />
      <Route path="*" element={<Home />} />
    </Routes>
  );
}
