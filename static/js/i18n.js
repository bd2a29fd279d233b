// UI strings in English and Simplified Chinese. Each view registers its own table next to its code;
// the language comes from a saved choice, else the browser's languages, else English.
//
//   addStrings({ en: { "x.title": "Hello {name}" }, "zh-CN": { "x.title": "你好 {name}" } });
//   t("x.title", { name })
//
// A string that depends on a number is an object of plural forms (Intl.PluralRules categories: "one", "other",
// …), chosen by vars.count, or by the variable its `of` names; Chinese has one form, so a plain string:
//
//   addStrings({ en: { "x.found": { one: "{count} result", other: "{count} results" } },
//                "zh-CN": { "x.found": "{count} 个结果" } });
//   t("x.found", { count: 1 })   // "1 result"

export const LANGUAGES = ["en", "zh-CN"];
const SAVED_KEY = "photonix.lang";
const tables = { en: {}, "zh-CN": {} };
let current = "en";
const rules = {};  // Intl.PluralRules by language, made once

export function addStrings(table) {
  for (const lang of LANGUAGES) Object.assign(tables[lang], table[lang] || {});
}

export function detectLanguage(saved = localStorage.getItem(SAVED_KEY), preferred = navigator.languages || []) {
  if (LANGUAGES.includes(saved)) return saved;
  for (const lang of preferred) {
    if (/^zh\b/i.test(lang)) return "zh-CN";
    if (/^en\b/i.test(lang)) return "en";
  }
  return "en";
}

export function setLanguage(lang, { save = false } = {}) {
  current = LANGUAGES.includes(lang) ? lang : "en";
  if (save) localStorage.setItem(SAVED_KEY, current);
  document.documentElement.lang = current;
  translatePage(document);
}

export function language() {
  return current;
}

export function t(key, vars = {}) {
  const entry = tables[current][key] ?? tables.en[key] ?? key;
  const text = typeof entry === "object" ? pluralForm(entry, vars[entry.of || "count"]) : entry;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** The form of `forms` ({one, other, …}) that the UI language uses for the number `count`; "other" by default. */
export function pluralForm(forms, count) {
  const number = Number(count);
  if (!Number.isFinite(number)) return forms.other ?? "";
  rules[current] ||= new Intl.PluralRules(current);
  return forms[rules[current].select(number)] ?? forms.other ?? "";
}

// Static markup: data-i18n sets the text, data-i18n-placeholder / data-i18n-title the attributes.
export function translatePage(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

addStrings({
  en: {
    "nav.settings": "Settings", "nav.downloads": "Downloads", "nav.logout": "Log out", "nav.login": "Log in",
    "search.placeholder": "Search (S)", "search.open": "Search",
    "live.open": "Live updates on", "live.connecting": "Connecting…", "live.backoff": "Reconnecting…",
    "live.login-required": "Log in for live updates", "live.stopped": "Live updates off",
    "error.network": "The server could not be reached. Check your connection.",
    "error.unknown": "Something went wrong ({status}).",
    "common.save": "Save", "common.cancel": "Cancel", "common.delete": "Delete", "common.edit": "Edit",
    "common.loading": "Loading…", "common.close": "Close", "common.yes": "Yes", "common.no": "No",
    "common.saved": "Saved.", "common.more": "Load more", "common.refresh": "Refresh",
  },
  "zh-CN": {
    "nav.settings": "设置", "nav.downloads": "下载中心", "nav.logout": "退出登录", "nav.login": "登录",
    "search.placeholder": "搜索 (S)", "search.open": "搜索",
    "live.open": "实时更新已连接", "live.connecting": "正在连接…", "live.backoff": "正在重新连接…",
    "live.login-required": "登录后接收实时更新", "live.stopped": "实时更新已关闭",
    "error.network": "无法连接服务器，请检查网络。",
    "error.unknown": "出错了（{status}）。",
    "common.save": "保存", "common.cancel": "取消", "common.delete": "删除", "common.edit": "编辑",
    "common.loading": "加载中…", "common.close": "关闭", "common.yes": "是", "common.no": "否",
    "common.saved": "已保存。", "common.more": "加载更多", "common.refresh": "刷新",
  },
});
