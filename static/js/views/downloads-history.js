// The History tab: every image download (saved, duplicate, rejected, retrying, failed), filtered by
// task and status, a page at a time. Reads GET /api/download/history only; the task list is lent.

import { api } from "../api.js";
import { formatBytes, formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { httpLink, named, option } from "./downloads-forms.js";

const HISTORY_STATUSES = ["ok", "duplicate", "rejected", "retrying", "failed"];
const HISTORY_PAGE = 50;
const COLUMNS = ["when", "task", "image", "file", "size", "status", "attempts", "error"];

addStrings({
  en: {
    "dl.history.task": "Task", "dl.history.status": "Status", "dl.history.all": "All",
    "dl.history.when": "When", "dl.history.image": "Image", "dl.history.file": "Saved as", "dl.history.size": "Size",
    "dl.history.attempts": "Tries", "dl.history.error": "Error", "dl.history.empty": "No downloads yet.",
    "dl.history.page": "Page {page} of {pages} ({total} in all)", "dl.history.prev": "Previous",
    "dl.history.next": "Next", "dl.history.deleted": "(deleted task)",
    "dl.hs.ok": "saved", "dl.hs.duplicate": "duplicate", "dl.hs.rejected": "rejected", "dl.hs.retrying": "retrying",
    "dl.hs.failed": "failed",
  },
  "zh-CN": {
    "dl.history.task": "任务", "dl.history.status": "状态", "dl.history.all": "全部",
    "dl.history.when": "时间", "dl.history.image": "图片", "dl.history.file": "保存为", "dl.history.size": "大小",
    "dl.history.attempts": "尝试次数", "dl.history.error": "错误", "dl.history.empty": "还没有下载记录。",
    "dl.history.page": "第 {page} / {pages} 页（共 {total} 条）", "dl.history.prev": "上一页",
    "dl.history.next": "下一页", "dl.history.deleted": "（已删除的任务）",
    "dl.hs.ok": "已保存", "dl.hs.duplicate": "重复", "dl.hs.rejected": "已拒绝", "dl.hs.retrying": "等待重试",
    "dl.hs.failed": "失败",
  },
});

// The tab as { element, refresh }; `tasks()` answers the current task list (for the filter and names).
export function historyPanel(app, tasks) {
  const panel = new HistoryPanel(app, tasks);
  return { element: panel.element, refresh: () => panel.refresh() };
}

class HistoryPanel {
  constructor(app, tasks) {
    Object.assign(this, { app, tasks });
    this.page = 1;
    this.seq = 0;
    this.taskSelect = h("select", { name: "taskId", onchange: () => this.load(1) });
    this.statusSelect = h("select", { name: "status", onchange: () => this.load(1) },
      option("", t("dl.history.all"), ""), HISTORY_STATUSES.map((s) => option(s, t(`dl.hs.${s}`))));
    this.tbody = h("tbody");
    this.empty = h("p", { class: "dl-empty", hidden: true }, t("dl.history.empty"));
    this.pager = h("div", { class: "dl-pager" });
    this.element = h("div", { class: "dl-panel", id: "dl-history" },
      h("div", { class: "dl-toolbar" },
        h("label", { class: "dl-inline" }, t("dl.history.task"), this.taskSelect),
        h("label", { class: "dl-inline" }, t("dl.history.status"), this.statusSelect),
        h("button", { class: "button ghost", type: "button", onclick: () => this.load(this.page) }, t("common.refresh"))),
      h("div", { class: "dl-table-wrap" }, h("table", { class: "table dl-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, t(`dl.history.${name}`))))),
        this.tbody)),
      this.empty, this.pager);
  }

  refresh() {
    this.fillTasks();
    this.load(this.page);
  }

  // The task filter's options, keeping the choice.
  fillTasks() {
    const chosen = this.taskSelect.value;
    this.taskSelect.replaceChildren(option("", t("dl.history.all"), chosen),
      ...this.tasks().map((task) => option(String(task.id), task.title, chosen)));
  }

  row(item) {
    const task = this.tasks().find((candidate) => candidate.id === item.taskId);
    const folder = item.path ? item.path.split("/").slice(0, -1).join("/") : "";
    const cell = (name, ...children) => h("td", { "data-label": t(`dl.history.${name}`) }, ...children);
    return h("tr", { "data-status": item.status },
      cell("when", formatTime(item.updatedAt || item.createdAt)),
      cell("task", task ? task.title : item.taskId ? `#${item.taskId}` : t("dl.history.deleted")),
      cell("image", httpLink(item.url, item.url)),
      cell("file", item.path ? h("a", { href: this.app.albumHash(folder) }, item.path) : "—"),
      cell("size", item.bytes ? formatBytes(item.bytes) : "—"),
      cell("status", h("span", { class: `badge dl-hs-${item.status}` }, named("dl.hs", item.status))),
      cell("attempts", String(item.attempts ?? "")),
      cell("error", item.error ? h("span", { class: "dl-error" }, item.error) : ""));
  }

  async load(wanted = 1) {
    const ticket = ++this.seq;
    const query = new URLSearchParams({ page: String(wanted), limit: String(HISTORY_PAGE) });
    if (this.taskSelect.value) query.set("taskId", this.taskSelect.value);
    if (this.statusSelect.value) query.set("status", this.statusSelect.value);
    let answer;
    try {
      answer = await api(`api/download/history?${query}`, { admin: true });
    } catch {
      return;
    }
    if (ticket !== this.seq) return;
    this.page = answer.page;
    this.tbody.replaceChildren(...answer.items.map((item) => this.row(item)));
    this.empty.hidden = answer.items.length > 0;
    this.showPager(answer.total, Math.max(1, Math.ceil(answer.total / answer.limit)));
  }

  showPager(total, pages) {
    const page = this.page;
    this.pager.replaceChildren(
      h("button", { class: "button ghost", type: "button", disabled: page <= 1, onclick: () => this.load(this.page - 1) },
        t("dl.history.prev")),
      h("span", {}, t("dl.history.page", { page, pages, total })),
      h("button", { class: "button ghost", type: "button", disabled: page >= pages, onclick: () => this.load(this.page + 1) },
        t("dl.history.next")));
  }
}
