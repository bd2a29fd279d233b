// Download log lines, newest first, with a level filter and "load more": the Logs tab (all tasks, with
// Clear) and one task's logs card. Reads /api/download/logs and /api/download/tasks/<id>/logs only.

import { api } from "../api.js";
import { formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { cardHead, named, option } from "./downloads-forms.js";

const LOG_PAGE = 100;

addStrings({
  en: {
    "dl.logs.level": "Level", "dl.logs.all": "All levels", "dl.logs.info": "info", "dl.logs.warning": "warning",
    "dl.logs.error": "error", "dl.logs.warningUp": "Warnings and errors", "dl.logs.errorUp": "Errors only",
    "dl.logs.clear": "Clear logs", "dl.logs.clearConfirm": "Delete every download log line?",
    "dl.logs.cleared": "{count} log lines deleted.", "dl.logs.empty": "No log lines.",
    "dl.taskLogs.title": "Logs: {title}",
  },
  "zh-CN": {
    "dl.logs.level": "级别", "dl.logs.all": "全部级别", "dl.logs.info": "信息", "dl.logs.warning": "警告",
    "dl.logs.error": "错误", "dl.logs.warningUp": "警告和错误", "dl.logs.errorUp": "仅错误",
    "dl.logs.clear": "清空日志", "dl.logs.clearConfirm": "删除所有下载日志？",
    "dl.logs.cleared": "已删除 {count} 条日志。", "dl.logs.empty": "没有日志。",
    "dl.taskLogs.title": "日志：{title}",
  },
});

// The Logs tab, as { element, refresh }; `titleOf(taskId)` names a line's task.
export function logsPanel(titleOf) {
  const lines = new LogList("api/download/logs", titleOf);
  const clear = h("button", { class: "button danger", type: "button", id: "dl-logs-clear", onclick: clearAll },
    t("dl.logs.clear"));
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

// One task's logs, as a card for the detail area (it starts loading at once).
export function taskLogsCard(task, titleOf, onClose) {
  const lines = new LogList(`api/download/tasks/${task.id}/logs`, titleOf);
  lines.load();
  return h("section", { class: "card dl-task-logs", id: "dl-task-logs", "data-task-id": task.id },
    cardHead(t("dl.taskLogs.title", { title: task.title }), onClose),
    h("div", { class: "dl-toolbar" }, lines.filter,
      h("button", { class: "button ghost", type: "button", onclick: () => lines.load() }, t("common.refresh"))),
    lines.list, lines.empty, lines.more);
}

// The lines from `path` (newest first) and their controls; the caller places filter, list, empty, more.
class LogList {
  constructor(path, titleOf) {
    Object.assign(this, { path, titleOf });
    this.seq = 0;
    this.oldest = null;
    this.level = h("select", { name: "level", onchange: () => this.load() },
      option("", t("dl.logs.all"), ""), option("warning", t("dl.logs.warningUp")), option("error", t("dl.logs.errorUp")));
    this.filter = h("label", { class: "dl-inline" }, t("dl.logs.level"), this.level);
    this.list = h("ol", { class: "dl-log" });
    this.empty = h("p", { class: "dl-empty", hidden: true }, t("dl.logs.empty"));
    this.more = h("button", { class: "button ghost", type: "button", hidden: true, onclick: () => this.load(true) },
      t("common.more"));
  }

  // The newest page, or with `append` the page before the oldest line shown (?before=<id>).
  async load(append = false) {
    const ticket = ++this.seq;
    const query = new URLSearchParams({ limit: String(LOG_PAGE) });
    if (this.level.value) query.set("level", this.level.value);
    if (append && this.oldest !== null) query.set("before", String(this.oldest));
    let answer;
    try {
      answer = await api(`${this.path}?${query}`, { admin: true });
    } catch {
      return;
    }
    if (ticket !== this.seq) return;
    const items = answer.items.map((line) => logItem(line, this.titleOf));
    if (append) this.list.append(...items);
    else this.list.replaceChildren(...items);
    if (answer.items.length) this.oldest = answer.items[answer.items.length - 1].id;
    this.empty.hidden = this.list.children.length > 0;
    this.more.hidden = answer.items.length < LOG_PAGE;
  }
}

function logItem(line, titleOf) {
  const meta = Object.entries(line.meta || {}).filter(([, value]) => value !== null && value !== "")
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`);
  return h("li", { class: "dl-log-line", "data-level": line.level, "data-log-id": line.id },
    h("time", {}, formatTime(line.createdAt)),
    h("span", { class: `badge dl-level-${line.level}` }, named("dl.logs", line.level)),
    line.taskId ? h("span", { class: "dl-log-task" }, titleOf(line.taskId)) : null,
    h("span", { class: "dl-log-message" }, line.message),
    meta.length ? h("small", { class: "dl-log-meta" }, meta.join(" ")) : null);
}
