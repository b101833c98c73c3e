// Chinese first (the centre's staff), English switchable. Pages add their own words to `WORDS` in their own file
// (see `words()`), so that this file does not grow with every page.
import { createContext, useContext, useState, type ReactNode } from "react";

export type Lang = "zh" | "en";
type Dictionary = Record<string, { zh: string; en: string }>;

const WORDS: Dictionary = {
  appTitle: { zh: "信息化产品运营支撑系统", en: "Ops Support System" },
  appShortTitle: { zh: "运支", en: "OSS" }, // in the folded side menu (56 px)
  tickets: { zh: "工单", en: "Tickets" },
  knowledge: { zh: "知识库", en: "Knowledge" },
  lifecycle: { zh: "产品生命周期", en: "Lifecycle" },
  dashboard: { zh: "运营看板", en: "Dashboard" },
  signIn: { zh: "登录", en: "Sign in" },
  signOut: { zh: "退出", en: "Sign out" },
  language: { zh: "English", en: "中文" },
};

export function words(more: Dictionary) {
  Object.assign(WORDS, more);
}

interface LangState {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: string) => string;
}

const LangContext = createContext<LangState>({ lang: "zh", setLang: () => {}, t: (k) => WORDS[k]?.zh ?? k });

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(() => (localStorage.getItem("ops.lang") as Lang) || "zh");
  const setLang = (value: Lang) => {
    localStorage.setItem("ops.lang", value);
    setLangState(value);
  };
  return (
    <LangContext.Provider value={{ lang, setLang, t: (key) => WORDS[key]?.[lang] ?? key }}>{children}</LangContext.Provider>
  );
}

export const useLang = () => useContext(LangContext);
