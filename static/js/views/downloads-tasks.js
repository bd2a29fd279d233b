// The Tasks tab: the tasks table kept current (tasks and status fetched together, at most once a
// second), the row actions, and the detail area above the table (task form, preview, a task's logs).
// It draws no status strip: each GET /status answer goes to `onStatus`.

import { api } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { taskLogsCard } from "./downloads-logs.js";
import { previewCard } from "./downloads-preview.js";
import { taskForm } from "./downloads-task-form.js";
import { tableHead, taskRow } from "./downloads-task-row.js";

const REFRESH_MIN_MS = 1000;  // however many events arrive, the tasks are fetched at most once a second
// While a run is on, poll too: the refresh on its final "done" event may still see it active (the lease
// is released just after), a failed run's download-error comes before its lastError is written, and
// an event can be missed (a reconnect, a stopped run publishes no end).
const ACTIVE_POLL_MS = 2000;
const PROGRESS_FORGET_MS = 120000;  // a queued run that never started, or a missed end

addStrings({
  en: {
    "dl.add": "Add task", "dl.noTasks": "No tasks yet. Add an RSS or Atom feed to start.",
    "dl.queued": "Queued: the run starts within seconds.",
    "dl.deleteConfirm": "Delete the task “{title}”? Its saved pictures stay in the gallery.",
    "dl.deleted": "Task deleted.", "dl.paused": "Task paused.", "dl.resumed": "Task resumed.",
  },
  "zh-CN": {
    "dl.add": "添加任务", "dl.noTasks": "还没有任务。添加一个 RSS 或 Atom 订阅开始吧。",
    "dl.queued": "已排队：几秒内开始运行。",
    "dl.deleteConfirm": "删除任务“{title}”？已保存的图片会留在相册中。",
    "dl.deleted": "任务已删除。", "dl.paused": "任务已暂停。", "dl.resumed": "任务已恢复。",
  },
});

export class TasksPanel {
  // `onStatus(status)` gets every GET /api/download/status answer, after the tasks it came with.
  constructor(app, { onStatus }) {
    Object.assign(this, { app, onStatus });
    this.tasks = [];
    this.progress = new Map();  // task id → its last progress event, with `before` (lastRunAt then) and `at`
    this.rows = new Map();  // task id → { signature, row }
    this.disposed = false;
    this.timer = null;
    this.timerDue = 0;
    this.lastRefresh = 0;
    this.seq = 0;
    this.detail = h("div", { class: "dl-detail", id: "dl-detail" });
    this.tbody = h("tbody");
    this.empty = h("p", { class: "dl-empty", hidden: true }, t("dl.noTasks"));
    this.element = h("div", { class: "dl-panel", id: "dl-tasks-panel" },
      h("div", { class: "dl-toolbar" },
        h("button", { class: "button primary", type: "button", id: "dl-add", onclick: () => this.openForm(null) }, t("dl.add")),
        h("button", { class: "button ghost", type: "button", onclick: () => this.refresh() }, t("common.refresh"))),
      this.detail,
      h("div", { class: "dl-table-wrap" }, h("table", { class: "table dl-table", id: "dl-tasks" }, tableHead(), this.tbody)),
      this.empty);
  }

  titleOf(id) {
    return this.tasks.find((task) => task.id === id)?.title || `#${id}`;
  }

  // ---- fetching: throttled, the newest answer wins ----------------------------------------------

  scheduleRefresh(delayMs = 0) {
    const due = Math.max(Date.now() + delayMs, this.lastRefresh + REFRESH_MIN_MS);
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => { this.timer = null; this.refresh({ quiet: true }); }, due - Date.now());
  }

  async refresh({ quiet = false } = {}) {
    this.lastRefresh = Date.now();
    const ticket = ++this.seq;
    let list;
    let status;
    try {
      [list, status] = await Promise.all([
        api("api/download/tasks", { admin: true, quiet }), api("api/download/status", { admin: true, quiet }),
      ]);
    } catch {
      return;
    }
    if (this.disposed || ticket !== this.seq) return;
    this.tasks = list.items;
    this.forgetFinished(status.activeTaskIds);
    this.onStatus(status);
    this.renderRows();
    if (status.activeTaskIds.length || this.progress.size) this.scheduleRefresh(ACTIVE_POLL_MS);
  }

  // ---- live progress ----------------------------------------------------------------------------

  onProgress(data) {
    this.track(data.taskId, data);
    if (this.tasks.some((task) => task.id === data.taskId)) this.renderRows();
    this.scheduleRefresh(data.phase === "done" ? 0 : ACTIVE_POLL_MS);
  }

  onError(data) {
    this.track(data.taskId, { phase: "error" });
    this.renderRows();
    this.scheduleRefresh();
  }

  // A run's progress shows until its task is no longer active AND its lastRunAt changed (or the
  // progress is PROGRESS_FORGET_MS old): a queued run is not active yet, and a finished one writes its
  // counters, publishes "done", and only then releases its lease.
  forgetFinished(activeIds) {
    for (const [id, progress] of this.progress) {
      const task = this.tasks.find((candidate) => candidate.id === id);
      const settled = task && (task.lastRunAt !== progress.before || Date.now() - progress.at > PROGRESS_FORGET_MS);
      if (!task || (!activeIds.includes(id) && settled)) this.progress.delete(id);
    }
  }

  track(taskId, data) {
    const before = this.progress.get(taskId)?.before ?? this.tasks.find((task) => task.id === taskId)?.lastRunAt ?? null;
    this.progress.set(taskId, { ...data, before, at: Date.now() });
  }

  // A run was just queued from this page: show it as such until its events arrive.
  queued(task) {
    this.track(task.id, { phase: "queued" });
    this.renderRows();
    this.scheduleRefresh(ACTIVE_POLL_MS);
  }

  // ---- the table --------------------------------------------------------------------------------

  // Rows are rebuilt only when their task or progress changed, so a button under the pointer stays put.
  renderRows() {
    const rows = this.tasks.map((task) => {
      const progress = this.progress.get(task.id);
      const signature = JSON.stringify([task, progress || null]);
      const old = this.rows.get(task.id);
      if (old && old.signature === signature) return old.row;
      const row = taskRow(task, progress, { albumHash: (folder) => this.app.albumHash(folder),
        onAction: (action, target) => this.act(action, target) });
      old?.row.replaceWith(row);
      this.rows.set(task.id, { signature, row });
      return row;
    });
    for (const id of this.rows.keys()) if (!this.tasks.some((task) => task.id === id)) this.rows.delete(id);
    const current = [...this.tbody.children];
    if (current.length !== rows.length || rows.some((row, n) => current[n] !== row)) this.tbody.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }

  replaceTask(saved) {
    const at = this.tasks.findIndex((task) => task.id === saved.id);
    if (at >= 0) this.tasks[at] = { ...this.tasks[at], ...saved, active: this.tasks[at].active };
    else this.tasks.push(saved);
    this.renderRows();
  }

  // ---- row actions ------------------------------------------------------------------------------

  act(action, task) {
    const close = () => this.closeDetail();
    if (action === "run") this.run(task);
    else if (action === "pause" || action === "resume") this.setState(task, action);
    else if (action === "edit") this.openForm(task);
    else if (action === "preview") this.openDetail(previewCard(task, { onClose: close, onQueued: () => this.queued(task) }));
    else if (action === "logs") this.openDetail(taskLogsCard(task, (id) => this.titleOf(id), close));
    else if (action === "delete") this.remove(task);
  }

  async run(task) {
    try {
      await api(`api/download/tasks/${task.id}/run`, { method: "POST", admin: true });
    } catch {
      return;
    }
    toast(t("dl.queued"));
    this.queued(task);
  }

  async setState(task, action) {
    let saved;
    try {
      saved = await api(`api/download/tasks/${task.id}/${action}`, { method: "POST", admin: true });
    } catch {
      return;
    }
    toast(t(action === "pause" ? "dl.paused" : "dl.resumed"));
    this.replaceTask(saved);
    this.scheduleRefresh();
  }

  async remove(task) {
    if (!window.confirm(t("dl.deleteConfirm", { title: task.title }))) return;
    try {
      await api(`api/download/tasks/${task.id}`, { method: "DELETE", admin: true });
    } catch {
      return;
    }
    toast(t("dl.deleted"));
    this.tasks = this.tasks.filter((candidate) => candidate.id !== task.id);
    this.progress.delete(task.id);
    if (this.detail.dataset.taskId === String(task.id)) this.closeDetail();
    this.renderRows();
    this.scheduleRefresh();
  }

  // ---- the detail area --------------------------------------------------------------------------

  openForm(task) {
    this.openDetail(taskForm(task, {
      onSaved: (saved) => { this.closeDetail(); this.replaceTask(saved); this.scheduleRefresh(); },
      onCancel: () => this.closeDetail(),
    }), task);
  }

  // Shows `element` above the table; `task` (or the element's data-task-id) is what it is about.
  openDetail(element, task = null) {
    this.detail.replaceChildren(element);
    if (task || element.dataset.taskId) this.detail.dataset.taskId = String(task?.id ?? element.dataset.taskId);
    else delete this.detail.dataset.taskId;
    this.detail.scrollIntoView?.({ block: "nearest" });
  }

  closeDetail() {
    this.detail.replaceChildren();
    delete this.detail.dataset.taskId;
  }

  // Whether the detail area was open (and is now closed): the Escape key's first job.
  closeDetailIfOpen() {
    if (!this.detail.childElementCount) return false;
    this.closeDetail();
    return true;
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.timer);
  }
}
