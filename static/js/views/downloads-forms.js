// The download center's secondary panels: the task form (add and edit), the History and Logs tabs,
// and the Settings tab (config and OPML). Each builds its own DOM with h() and shows a 400's message
// next to the input the server names in `field`; nothing here knows about the tasks table.

import { api } from "../api.js";
import { formatBytes, formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";

const HISTORY_STATUSES = ["ok", "duplicate", "rejected", "retrying", "failed"];
const LOG_LEVELS = ["info", "warning", "error"];
const HISTORY_PAGE = 50;
const LOG_PAGE = 100;
const REVOKE_AFTER_MS = 1000;
const TEXT_FIELDS = ["feedUrl", "title", "targetFolder", "category"];
const LIST_FIELDS = ["tags", "excludeKeywords"];
const CONFIG_KEYS = [
  "allowPrivateHosts", "allowedPorts", "maxConcurrentFeeds", "maxConcurrentDownloads", "perHostConcurrency",
  "connectTimeoutSeconds", "feedTimeoutSeconds", "imageTimeoutSeconds", "maxRedirects", "maxFeedBytes",
  "maxImageBytes", "minImageBytes", "minImageWidth", "minImageHeight", "defaultIntervalMinutes", "maxAttempts",
  "retryBackoffSeconds",
];

addStrings({
  en: {
    "dl.form.add": "Add a feed", "dl.form.edit": "Edit “{title}”", "dl.form.submitAdd": "Add task",
    "dl.form.submitEdit": "Save changes", "dl.form.added": "Task added.", "dl.form.saved": "Task saved.",
    "dl.form.unchanged": "Nothing changed.", "dl.form.feedUrl": "Feed URL (RSS or Atom)", "dl.form.title": "Title",
    "dl.form.titleAuto": "From the feed", "dl.form.interval": "Check every (minutes, at least 5)",
    "dl.form.intervalDefault": "Default from the settings", "dl.form.status": "Schedule",
    "dl.form.targetFolder": "Save into gallery folder", "dl.form.targetAuto": "Downloads/<feed title>",
    "dl.form.category": "Category", "dl.form.tags": "Tags (comma-separated)",
    "dl.form.excludeKeywords": "Skip entries containing (comma-separated)", "dl.form.cookie": "Cookie for the feed's site",
    "dl.form.cookieSet": "A cookie is set. Leave empty to keep it.", "dl.form.cookieRemove": "Remove the cookie",
    "dl.form.cookieHint": "Sent to the feed's own host only; never shown again.",
    "dl.form.notNumber": "Enter a whole number.",
    "dl.history.task": "Task", "dl.history.status": "Status", "dl.history.all": "All",
    "dl.history.when": "When", "dl.history.image": "Image", "dl.history.file": "Saved as", "dl.history.size": "Size",
    "dl.history.attempts": "Tries", "dl.history.error": "Error", "dl.history.empty": "No downloads yet.",
    "dl.history.page": "Page {page} of {pages} ({total} in all)", "dl.history.prev": "Previous",
    "dl.history.next": "Next", "dl.history.deleted": "(deleted task)",
    "dl.hs.ok": "saved", "dl.hs.duplicate": "duplicate", "dl.hs.rejected": "rejected", "dl.hs.retrying": "retrying",
    "dl.hs.failed": "failed",
    "dl.logs.level": "Level", "dl.logs.all": "All levels", "dl.logs.info": "info", "dl.logs.warning": "warning",
    "dl.logs.error": "error", "dl.logs.warningUp": "Warnings and errors", "dl.logs.errorUp": "Errors only",
    "dl.logs.clear": "Clear logs", "dl.logs.clearConfirm": "Delete every download log line?",
    "dl.logs.cleared": "{count} log lines deleted.", "dl.logs.empty": "No log lines.",
    "dl.config.title": "Download settings", "dl.config.save": "Save settings", "dl.config.saved": "Settings saved.",
    "dl.config.unchanged": "Nothing changed.", "dl.config.portsHint": "Comma-separated, e.g. 80, 443, 8080",
    "dl.config.allowPrivateHosts": "Allow feeds on private networks (LAN, localhost)",
    "dl.config.allowedPorts": "Allowed ports", "dl.config.maxConcurrentFeeds": "Tasks running at once",
    "dl.config.maxConcurrentDownloads": "Images downloading at once", "dl.config.perHostConcurrency": "Images at once per host",
    "dl.config.connectTimeoutSeconds": "Connect timeout (s)", "dl.config.feedTimeoutSeconds": "Feed fetch time limit (s)",
    "dl.config.imageTimeoutSeconds": "Image fetch time limit (s)", "dl.config.maxRedirects": "Redirects followed",
    "dl.config.maxFeedBytes": "Largest feed (bytes)", "dl.config.maxImageBytes": "Largest image (bytes)",
    "dl.config.minImageBytes": "Smallest image (bytes)", "dl.config.minImageWidth": "Smallest width (px)",
    "dl.config.minImageHeight": "Smallest height (px)", "dl.config.defaultIntervalMinutes": "Default interval (minutes)",
    "dl.config.maxAttempts": "Tries per image", "dl.config.retryBackoffSeconds": "First retry after (s, doubles)",
    "dl.opml.title": "OPML import and export", "dl.opml.file": "OPML file", "dl.opml.merge": "Merge: add new feeds only",
    "dl.opml.replace": "Replace: update to the file and delete tasks not in it", "dl.opml.import": "Import",
    "dl.opml.export": "Export OPML", "dl.opml.noFile": "Choose an OPML file first.",
    "dl.opml.replaceConfirm": "Replace mode deletes every task that is not in the file. Continue?",
    "dl.opml.result": "Added {added}, updated {updated}, removed {removed}, skipped {skipped}.",
    "dl.opml.exported": "Feeds exported.",
  },
  "zh-CN": {
    "dl.form.add": "添加订阅", "dl.form.edit": "编辑“{title}”", "dl.form.submitAdd": "添加任务",
    "dl.form.submitEdit": "保存修改", "dl.form.added": "任务已添加。", "dl.form.saved": "任务已保存。",
    "dl.form.unchanged": "没有改动。", "dl.form.feedUrl": "订阅地址（RSS 或 Atom）", "dl.form.title": "标题",
    "dl.form.titleAuto": "取自订阅源", "dl.form.interval": "检查间隔（分钟，至少 5）",
    "dl.form.intervalDefault": "使用设置中的默认值", "dl.form.status": "计划",
    "dl.form.targetFolder": "保存到相册文件夹", "dl.form.targetAuto": "Downloads/<订阅标题>",
    "dl.form.category": "分类", "dl.form.tags": "标签（逗号分隔）",
    "dl.form.excludeKeywords": "跳过包含以下词语的条目（逗号分隔）", "dl.form.cookie": "订阅站点的 Cookie",
    "dl.form.cookieSet": "已设置 Cookie。留空则保持不变。", "dl.form.cookieRemove": "删除 Cookie",
    "dl.form.cookieHint": "只发送给订阅源自己的主机，保存后不再显示。",
    "dl.form.notNumber": "请输入整数。",
    "dl.history.task": "任务", "dl.history.status": "状态", "dl.history.all": "全部",
    "dl.history.when": "时间", "dl.history.image": "图片", "dl.history.file": "保存为", "dl.history.size": "大小",
    "dl.history.attempts": "尝试次数", "dl.history.error": "错误", "dl.history.empty": "还没有下载记录。",
    "dl.history.page": "第 {page} / {pages} 页（共 {total} 条）", "dl.history.prev": "上一页",
    "dl.history.next": "下一页", "dl.history.deleted": "（已删除的任务）",
    "dl.hs.ok": "已保存", "dl.hs.duplicate": "重复", "dl.hs.rejected": "已拒绝", "dl.hs.retrying": "等待重试",
    "dl.hs.failed": "失败",
    "dl.logs.level": "级别", "dl.logs.all": "全部级别", "dl.logs.info": "信息", "dl.logs.warning": "警告",
    "dl.logs.error": "错误", "dl.logs.warningUp": "警告和错误", "dl.logs.errorUp": "仅错误",
    "dl.logs.clear": "清空日志", "dl.logs.clearConfirm": "删除所有下载日志？",
    "dl.logs.cleared": "已删除 {count} 条日志。", "dl.logs.empty": "没有日志。",
    "dl.config.title": "下载设置", "dl.config.save": "保存设置", "dl.config.saved": "设置已保存。",
    "dl.config.unchanged": "没有改动。", "dl.config.portsHint": "逗号分隔，例如 80, 443, 8080",
    "dl.config.allowPrivateHosts": "允许内网订阅源（局域网、本机）",
    "dl.config.allowedPorts": "允许的端口", "dl.config.maxConcurrentFeeds": "同时运行的任务数",
    "dl.config.maxConcurrentDownloads": "同时下载的图片数", "dl.config.perHostConcurrency": "每个主机同时下载的图片数",
    "dl.config.connectTimeoutSeconds": "连接超时（秒）", "dl.config.feedTimeoutSeconds": "获取订阅的时间上限（秒）",
    "dl.config.imageTimeoutSeconds": "获取图片的时间上限（秒）", "dl.config.maxRedirects": "最多跟随的重定向次数",
    "dl.config.maxFeedBytes": "订阅最大字节数", "dl.config.maxImageBytes": "图片最大字节数",
    "dl.config.minImageBytes": "图片最小字节数", "dl.config.minImageWidth": "最小宽度（像素）",
    "dl.config.minImageHeight": "最小高度（像素）", "dl.config.defaultIntervalMinutes": "默认检查间隔（分钟）",
    "dl.config.maxAttempts": "每张图片的尝试次数", "dl.config.retryBackoffSeconds": "首次重试等待（秒，逐次加倍）",
    "dl.opml.title": "OPML 导入与导出", "dl.opml.file": "OPML 文件", "dl.opml.merge": "合并：只添加新的订阅",
    "dl.opml.replace": "替换：按文件更新，并删除文件中没有的任务", "dl.opml.import": "导入",
    "dl.opml.export": "导出 OPML", "dl.opml.noFile": "请先选择一个 OPML 文件。",
    "dl.opml.replaceConfirm": "替换模式会删除文件中没有的所有任务。继续吗？",
    "dl.opml.result": "新增 {added}，更新 {updated}，删除 {removed}，跳过 {skipped}。",
    "dl.opml.exported": "订阅已导出。",
  },
});

// ---- shared helpers -------------------------------------------------------------------------------

function field(name, label, input, hint) {
  return h("label", { class: "dl-field", "data-field": name },
    h("span", { class: "dl-label" }, label), input, hint ? h("small", { class: "dl-hint" }, hint) : null,
    h("small", { class: "dl-field-error", "data-error-for": name }));
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".dl-field-error")) el.textContent = "";
  const message = form.querySelector(".form-message");
  if (message) message.textContent = "";
}

// An API error next to the input named by its `field`, else in the form's message line.
export function showError(form, error) {
  const name = error.field || "";
  const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = error.message;
    input.focus();
    return;
  }
  const message = form.querySelector(".form-message");
  if (message) message.textContent = error.message;
}

// A server value's translation, or the value itself when this version has no name for it.
export function named(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

function words(text) {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}

function option(value, label, selected) {
  return h("option", { value, selected: selected === value }, label);
}

function httpLink(url, text) {
  return /^https?:\/\//i.test(url || "")
    ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", title: url }, text)
    : h("span", { title: url || "" }, text);
}

// ---- the task form --------------------------------------------------------------------------------

// Add (task = null) or edit one task. A PATCH sends only what changed, so the server's defaults
// (title from the feed, Downloads/<title>) stay defaults; an empty cookie field keeps the cookie.
export function taskForm(task, { onSaved, onCancel }) {
  const editing = Boolean(task);
  const initial = editing ? {
    ...Object.fromEntries(TEXT_FIELDS.map((name) => [name, task[name] || ""])),
    interval: task.interval, status: task.status, tags: task.tags.join(", "),
    excludeKeywords: task.excludeKeywords.join(", "),
  } : {};
  const text = (name, attrs = {}) => h("input", { name, type: "text", autocomplete: "off", value: initial[name], ...attrs });
  const inputs = {
    feedUrl: text("feedUrl", { type: "url", required: true, placeholder: "https://example.com/feed.xml" }),
    title: text("title", { placeholder: t("dl.form.titleAuto") }),
    interval: h("input", { name: "interval", type: "number", min: 5, max: 10080, step: 1, value: initial.interval,
      placeholder: t("dl.form.intervalDefault") }),
    status: h("select", { name: "status" }, ["running", "paused"].map(
      (s) => option(s, t(`dl.status.${s}`), initial.status || "running"))),
    targetFolder: text("targetFolder", { placeholder: t("dl.form.targetAuto") }),
    category: text("category"),
    tags: text("tags", { value: initial.tags }),
    excludeKeywords: text("excludeKeywords", { value: initial.excludeKeywords }),
    cookie: h("input", { name: "cookie", type: "password", autocomplete: "new-password",
      placeholder: task?.hasCookie ? t("dl.cookie") : "" }),
  };
  const removeCookie = h("input", { type: "checkbox", name: "removeCookie" });
  const button = h("button", { class: "button primary", type: "submit" }, t(editing ? "dl.form.submitEdit" : "dl.form.submitAdd"));
  const form = h("form", { class: "card dl-form", id: "dl-task-form", novalidate: true, onsubmit: submit },
    h("h2", {}, editing ? t("dl.form.edit", { title: task.title }) : t("dl.form.add")),
    h("div", { class: "dl-grid" },
      field("feedUrl", t("dl.form.feedUrl"), inputs.feedUrl),
      field("title", t("dl.form.title"), inputs.title),
      field("interval", t("dl.form.interval"), inputs.interval),
      field("status", t("dl.form.status"), inputs.status),
      field("targetFolder", t("dl.form.targetFolder"), inputs.targetFolder),
      field("category", t("dl.form.category"), inputs.category),
      field("tags", t("dl.form.tags"), inputs.tags),
      field("excludeKeywords", t("dl.form.excludeKeywords"), inputs.excludeKeywords),
      field("cookie", t("dl.form.cookie"), inputs.cookie, task?.hasCookie ? t("dl.form.cookieSet") : t("dl.form.cookieHint")),
      task?.hasCookie ? h("label", { class: "dl-check" }, removeCookie, t("dl.form.cookieRemove")) : null),
    h("p", { class: "form-message", role: "alert" }),
    h("div", { class: "dl-actions" }, button,
      h("button", { class: "button ghost", type: "button", onclick: onCancel }, t("common.cancel"))));
  setTimeout(() => inputs[editing ? "title" : "feedUrl"].focus(), 0);

  function values() {
    if (inputs.interval.validity.badInput) {
      showError(form, { field: "interval", message: t("dl.form.notNumber") });
      return null;
    }
    const raw = inputs.interval.value.trim();
    return {
      ...Object.fromEntries(TEXT_FIELDS.map((name) => [name, inputs[name].value.trim()])),
      ...Object.fromEntries(LIST_FIELDS.map((name) => [name, words(inputs[name].value)])),
      interval: raw === "" ? null : Number(raw), status: inputs.status.value, cookie: inputs.cookie.value,
    };
  }

  function created(v) {
    const body = { feedUrl: v.feedUrl, status: v.status };
    for (const name of ["title", "targetFolder", "category"]) if (v[name]) body[name] = v[name];
    for (const name of LIST_FIELDS) if (v[name].length) body[name] = v[name];
    if (v.interval !== null) body.interval = v.interval;
    if (v.cookie) body.cookie = v.cookie;
    return body;
  }

  function changed(v) {
    const body = {};
    for (const name of [...TEXT_FIELDS, "status"]) if (v[name] !== initial[name]) body[name] = v[name];
    for (const name of LIST_FIELDS) if (v[name].join(", ") !== initial[name]) body[name] = v[name];
    if (v.interval !== null && v.interval !== initial.interval) body.interval = v.interval;
    if (removeCookie.checked) body.cookie = "";
    else if (v.cookie) body.cookie = v.cookie;
    return body;
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors(form);
    const v = values();
    if (!v) return;
    const body = editing ? changed(v) : created(v);
    if (editing && !Object.keys(body).length) {
      toast(t("dl.form.unchanged"));
      onCancel();
      return;
    }
    button.disabled = true;
    try {
      const saved = await api(editing ? `api/download/tasks/${task.id}` : "api/download/tasks",
        { method: editing ? "PATCH" : "POST", body, admin: true, quiet: true });
      toast(t(editing ? "dl.form.saved" : "dl.form.added"));
      onSaved(saved);
    } catch (error) {
      showError(form, error);
    } finally {
      button.disabled = false;
    }
  }
  return form;
}

// ---- history --------------------------------------------------------------------------------------

export function historyPanel(app, tasks) {
  let page = 1;
  let seq = 0;
  const taskSelect = h("select", { name: "taskId", onchange: () => load(1) });
  const statusSelect = h("select", { name: "status", onchange: () => load(1) },
    option("", t("dl.history.all"), ""), HISTORY_STATUSES.map((s) => option(s, t(`dl.hs.${s}`))));
  const tbody = h("tbody");
  const empty = h("p", { class: "dl-empty", hidden: true }, t("dl.history.empty"));
  const pager = h("div", { class: "dl-pager" });
  const head = ["when", "task", "image", "file", "size", "status", "attempts", "error"];
  const element = h("div", { class: "dl-panel", id: "dl-history" },
    h("div", { class: "dl-toolbar" },
      h("label", { class: "dl-inline" }, t("dl.history.task"), taskSelect),
      h("label", { class: "dl-inline" }, t("dl.history.status"), statusSelect),
      h("button", { class: "button ghost", type: "button", onclick: () => load(page) }, t("common.refresh"))),
    h("div", { class: "dl-table-wrap" }, h("table", { class: "table dl-table" },
      h("thead", {}, h("tr", {}, head.map((name) => h("th", { scope: "col" }, t(`dl.history.${name}`))))), tbody)),
    empty, pager);

  function fillTasks() {
    const chosen = taskSelect.value;
    taskSelect.replaceChildren(option("", t("dl.history.all"), chosen),
      ...tasks().map((task) => option(String(task.id), task.title, chosen)));
  }

  function row(item) {
    const task = tasks().find((candidate) => candidate.id === item.taskId);
    const folder = item.path ? item.path.split("/").slice(0, -1).join("/") : "";
    const cell = (name, ...children) => h("td", { "data-label": t(`dl.history.${name}`) }, ...children);
    return h("tr", { "data-status": item.status },
      cell("when", formatTime(item.updatedAt || item.createdAt)),
      cell("task", task ? task.title : item.taskId ? `#${item.taskId}` : t("dl.history.deleted")),
      cell("image", httpLink(item.url, item.url)),
      cell("file", item.path ? h("a", { href: app.albumHash(folder) }, item.path) : "—"),
      cell("size", item.bytes ? formatBytes(item.bytes) : "—"),
      cell("status", h("span", { class: `badge dl-hs-${item.status}` }, named("dl.hs", item.status))),
      cell("attempts", String(item.attempts ?? "")),
      cell("error", item.error ? h("span", { class: "dl-error" }, item.error) : ""));
  }

  async function load(wanted = 1) {
    const ticket = ++seq;
    const query = new URLSearchParams({ page: String(wanted), limit: String(HISTORY_PAGE) });
    if (taskSelect.value) query.set("taskId", taskSelect.value);
    if (statusSelect.value) query.set("status", statusSelect.value);
    let answer;
    try {
      answer = await api(`api/download/history?${query}`, { admin: true });
    } catch {
      return;
    }
    if (ticket !== seq) return;
    page = answer.page;
    const pages = Math.max(1, Math.ceil(answer.total / answer.limit));
    tbody.replaceChildren(...answer.items.map(row));
    empty.hidden = answer.items.length > 0;
    pager.replaceChildren(
      h("button", { class: "button ghost", type: "button", disabled: page <= 1, onclick: () => load(page - 1) }, t("dl.history.prev")),
      h("span", {}, t("dl.history.page", { page, pages, total: answer.total })),
      h("button", { class: "button ghost", type: "button", disabled: page >= pages, onclick: () => load(page + 1) }, t("dl.history.next")));
  }

  return { element, refresh: () => { fillTasks(); load(page); } };
}

// ---- logs -----------------------------------------------------------------------------------------

// Log lines (newest first) as list items; `titleOf(taskId)` names the task.
export function logItems(items, titleOf) {
  return items.map((line) => {
    const meta = Object.entries(line.meta || {}).filter(([, value]) => value !== null && value !== "")
      .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`);
    return h("li", { class: "dl-log-line", "data-level": line.level, "data-log-id": line.id },
      h("time", {}, formatTime(line.createdAt)),
      h("span", { class: `badge dl-level-${line.level}` }, named("dl.logs", line.level)),
      line.taskId ? h("span", { class: "dl-log-task" }, titleOf(line.taskId)) : null,
      h("span", { class: "dl-log-message" }, line.message),
      meta.length ? h("small", { class: "dl-log-meta" }, meta.join(" ")) : null);
  });
}

// A list of log lines from `path` with a level filter and "load more" (?before=<id>).
export function logList(path, titleOf, { levelFilter = true } = {}) {
  let seq = 0;
  let oldest = null;
  const level = h("select", { name: "level", onchange: () => load() },
    option("", t("dl.logs.all"), ""), option("warning", t("dl.logs.warningUp")), option("error", t("dl.logs.errorUp")));
  const list = h("ol", { class: "dl-log" });
  const empty = h("p", { class: "dl-empty", hidden: true }, t("dl.logs.empty"));
  const more = h("button", { class: "button ghost", type: "button", hidden: true, onclick: () => load(true) }, t("common.more"));
  const filter = levelFilter ? h("label", { class: "dl-inline" }, t("dl.logs.level"), level) : null;

  async function load(append = false) {
    const ticket = ++seq;
    const query = new URLSearchParams({ limit: String(LOG_PAGE) });
    if (level.value) query.set("level", level.value);
    if (append && oldest !== null) query.set("before", String(oldest));
    let answer;
    try {
      answer = await api(`${path}?${query}`, { admin: true });
    } catch {
      return;
    }
    if (ticket !== seq) return;
    const items = logItems(answer.items, titleOf);
    if (append) list.append(...items);
    else list.replaceChildren(...items);
    if (answer.items.length) oldest = answer.items[answer.items.length - 1].id;
    empty.hidden = list.children.length > 0;
    more.hidden = answer.items.length < LOG_PAGE;
  }
  return { filter, list, empty, more, load };
}

export function logsPanel(titleOf) {
  const lines = logList("api/download/logs", titleOf);
  const clear = h("button", { class: "button danger", type: "button", id: "dl-logs-clear", onclick: clearAll }, t("dl.logs.clear"));
  const element = h("div", { class: "dl-panel", id: "dl-logs" },
    h("div", { class: "dl-toolbar" }, lines.filter,
      h("button", { class: "button ghost", type: "button", onclick: () => lines.load() }, t("common.refresh")), clear),
    lines.list, lines.empty, lines.more);

  async function clearAll() {
    if (!window.confirm(t("dl.logs.clearConfirm"))) return;
    try {
      const answer = await api("api/download/logs", { method: "DELETE", admin: true });
      toast(t("dl.logs.cleared", { count: answer.removed }));
    } catch {
      return;
    }
    lines.load();
  }
  return { element, refresh: () => lines.load() };
}

// ---- settings: config and OPML --------------------------------------------------------------------

export function settingsPanel({ onImported }) {
  const config = configForm();
  const element = h("div", { class: "dl-panel dl-settings", id: "dl-settings" }, config.element, opmlCard(onImported));
  return { element, refresh: config.load };
}

// Every key GET /config answers, typed by its value: a checkbox, a port list, or a number; known keys
// in a sensible order (the server sorts them alphabetically), unknown ones after them under their name.
function configForm() {
  let loaded = {};
  const grid = h("div", { class: "dl-grid" });
  const button = h("button", { class: "button primary", type: "submit" }, t("dl.config.save"));
  const element = h("form", { class: "card dl-form", id: "dl-config-form", novalidate: true, onsubmit: save },
    h("h2", {}, t("dl.config.title")), grid, h("p", { class: "form-message", role: "alert" }),
    h("div", { class: "dl-actions" }, button));
  const label = (key) => (CONFIG_KEYS.includes(key) ? t(`dl.config.${key}`) : key);

  function input(key, value) {
    if (typeof value === "boolean") {
      return h("label", { class: "dl-check", "data-field": key }, h("input", { type: "checkbox", name: key, checked: value }),
        label(key), h("small", { class: "dl-field-error", "data-error-for": key }));
    }
    if (Array.isArray(value)) {
      return field(key, label(key), h("input", { type: "text", name: key, value: value.join(", "), inputmode: "numeric" }),
        t("dl.config.portsHint"));
    }
    if (typeof value === "number") {
      const box = h("input", { type: "number", name: key, value, step: "any", min: 0 });
      const hint = /Bytes$/.test(key) ? h("small", { class: "dl-hint" }, formatBytes(value)) : null;
      if (hint) box.addEventListener("input", () => { hint.textContent = formatBytes(Number(box.value)); });
      const wrapper = field(key, label(key), box);
      if (hint) box.after(hint);
      return wrapper;
    }
    return field(key, label(key), h("input", { type: "text", name: key, value: String(value ?? "") }));
  }

  function show(values) {
    loaded = values;
    const rank = (key) => (CONFIG_KEYS.includes(key) ? CONFIG_KEYS.indexOf(key) : CONFIG_KEYS.length);
    const keys = Object.keys(values).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    grid.replaceChildren(...keys.map((key) => input(key, values[key])));
  }

  function read(key) {
    const box = element.querySelector(`[name="${CSS.escape(key)}"]`);
    const before = loaded[key];
    if (typeof before === "boolean") return box.checked;
    if (Array.isArray(before)) return words(box.value).map((word) => (/^\d+$/.test(word) ? Number(word) : word));
    if (typeof before === "number") {
      if (box.validity.badInput || box.value.trim() === "") throw Object.assign(new Error(t("dl.form.notNumber")), { field: key });
      return Number(box.value);
    }
    return box.value;
  }

  async function load() {
    try {
      show(await api("api/download/config", { admin: true }));
    } catch {
      /* the toast said why */
    }
  }

  async function save(event) {
    event.preventDefault();
    clearErrors(element);
    const changes = {};
    try {
      for (const key of Object.keys(loaded)) {
        const value = read(key);
        if (JSON.stringify(value) !== JSON.stringify(loaded[key])) changes[key] = value;
      }
    } catch (error) {
      showError(element, error);
      return;
    }
    if (!Object.keys(changes).length) {
      element.querySelector(".form-message").textContent = t("dl.config.unchanged");
      return;
    }
    button.disabled = true;
    try {
      show(await api("api/download/config", { method: "PUT", body: changes, admin: true, quiet: true }));
      toast(t("dl.config.saved"));
    } catch (error) {
      showError(element, error);
    } finally {
      button.disabled = false;
    }
  }
  return { element, load };
}

function opmlCard(onImported) {
  const file = h("input", { id: "dl-opml-file", type: "file", name: "file", accept: ".opml,.xml,text/x-opml,text/xml,application/xml" });
  const mode = (value, checked) => h("label", { class: "dl-check" },
    h("input", { type: "radio", name: "mode", value, checked }), t(`dl.opml.${value}`));
  const result = h("div", { class: "dl-opml-result", id: "dl-opml-result", role: "status" });
  const importButton = h("button", { class: "button primary", type: "submit", id: "dl-opml-import" }, t("dl.opml.import"));
  const exportButton = h("button", { class: "button", type: "button", id: "dl-opml-export", onclick: exportFeeds }, t("dl.opml.export"));
  const form = h("form", { class: "card dl-form", id: "dl-opml-form", onsubmit: importFeeds },
    h("h2", {}, t("dl.opml.title")),
    h("label", { class: "dl-field" }, h("span", { class: "dl-label" }, t("dl.opml.file")), file),
    h("fieldset", { class: "dl-modes" }, mode("merge", true), mode("replace", false)),
    h("div", { class: "dl-actions" }, importButton, exportButton), result);

  async function importFeeds(event) {
    event.preventDefault();
    result.replaceChildren();
    result.classList.remove("error");
    const chosen = form.querySelector("input[name=mode]:checked").value;
    if (!file.files.length) {
      result.classList.add("error");
      result.textContent = t("dl.opml.noFile");
      return;
    }
    if (chosen === "replace" && !window.confirm(t("dl.opml.replaceConfirm"))) return;
    const body = new FormData();
    body.append("file", file.files[0]);
    body.append("mode", chosen);
    importButton.disabled = true;
    try {
      const answer = await api("api/download/opml", { method: "POST", body, admin: true, quiet: true });
      result.append(h("p", {}, t("dl.opml.result", { ...answer, skipped: answer.skipped.length })));
      if (answer.skipped.length) {
        result.append(h("ul", { class: "dl-skipped" },
          answer.skipped.map((item) => h("li", {}, h("code", {}, item.url || "?"), " — ", item.reason))));
      }
      file.value = "";
      onImported();
    } catch (error) {
      result.classList.add("error");
      result.textContent = error.message;
    } finally {
      importButton.disabled = false;
    }
  }

  async function exportFeeds() {
    let blob;
    try {
      blob = await (await api("api/download/opml", { admin: true, raw: true })).blob();
    } catch {
      return;
    }
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: "photonix-feeds.opml", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
    toast(t("dl.opml.exported"));
  }
  return form;
}
