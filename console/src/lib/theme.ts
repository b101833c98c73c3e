// The console's Ant Design theme. antd's default palette puts text under WCAG AA's 4.5:1 in many places (links
// #1677ff on white 4.1, secondary text 45 % black 3.4, a green tag's text on its own background 2.2, a warning
// tag's 1.8): these seeds and tokens darken each of them just enough. Checked on every main page by axe-core in
// tests/console/test_usable.py.
import type { ThemeConfig } from "antd";

export const THEME: ThemeConfig = {
  token: {
    colorPrimary: "#1565c0", // 5.8:1 on white
    colorInfo: "#1565c0",
    colorLink: "#1565c0",
    colorSuccess: "#237804",
    colorSuccessBg: "#f6ffed",
    colorWarning: "#945600",
    colorWarningBg: "#fffbe6",
    colorError: "#cf1322",
    colorErrorBg: "#fff2f0",
    colorTextTertiary: "rgba(0, 0, 0, 0.6)", // labels, statistic titles, secondary Typography: 5.7:1 on white
    colorTextDescription: "rgba(0, 0, 0, 0.6)",
    // preset tag colours (<Tag color="green">): their text is the 7th shade of the seed on its 1st
    green: "#237804",
    orange: "#b35900",
    gold: "#ad6800",
    cyan: "#006d75",
    volcano: "#b8320b",
    lime: "#3f6600",
  },
  components: {
    Table: { colorTextDisabled: "rgba(0, 0, 0, 0.6)" }, // its 暂无数据 line, 25 % black by default
  },
};
