// The download center (admin only): a status strip, the tasks table with live progress from the
// download-* events, per-task preview and logs, and tabs for History, Logs and Settings (those panels
// and the task form live in downloads-forms.js). Talks to /api/download/* only, never to the gallery.
//
//   #/downloads            the Tasks tab        #/downloads?tab=logs   another tab (kept on reload)

import { api } from "../api.js";
import { formatBytes, formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { adminGate } from "./admin.js";
import { historyPanel, logList, logsPanel, named, settingsPanel, taskForm } from "./downloads-forms.js";

const TABS = ["tasks", "history", "logs", "settings"];
const COLUMNS = ["title", "feed", "status", "interval", "next", "last", "stats", "error", "actions"];
const REFRESH_MIN_MS = 1000;  // however many events arrive, the tasks are fetched at most once a second
const ACTIVE_POLL_MS = 2000;  // while a run is on, poll too: its final counters are written after its last event
const PROGRESS_FORGET_MS = 120000;  // a queued run that never started, or a missed end

addStrings({
  en: {
    "dl.title": "Download center", "dl.tab.tasks": "Tasks", "dl.tab.history": "History", "dl.tab.logs": "Logs",
    "dl.tab.settings": "Settings", "dl.add": "Add task", "dl.noTasks": "No tasks yet. Add an RSS or Atom feed to start.",
    "dl.col.title": "Title", "dl.col.feed": "Feed", "dl.col.status": "Status", "dl.col.interval": "Every",
    "dl.col.next": "Next run", "dl.col.last": "Last run", "dl.col.stats": "Counters", "dl.col.error": "Last error",
    "dl.col.actions": "Actions",
    "dl.status.running": "running", "dl.status.paused": "paused", "dl.active": "active now",
    "dl.minutes": "{n} min", "dl.never": "never", "dl.cookie": "cookie set",
    "dl.stats": "{saved} saved · {failed} failed · {entries} entries · {bytes}",
    "dl.act.run": "Run now", "dl.act.pause": "Pause", "dl.act.resume": "Resume", "dl.act.edit": "Edit",
    "dl.act.preview": "Preview", "dl.act.logs": "Logs", "dl.act.delete": "Delete",
    "dl.queued": "Queued: the run starts within seconds.", "dl.progress.queued": "queued…",
    "dl.progress.feed": "reading the feed…", "dl.progress.images": "{done}/{total} entries · {saved} saved",
    "dl.progress.done": "finished: {saved} saved, {failed} failed",
    "dl.deleteConfirm": "Delete the task “{title}”? Its saved pictures stay in the gallery.",
    "dl.deleted": "Task deleted.", "dl.paused": "Task paused.", "dl.resumed": "Task resumed.",
    "dl.runError": "{title}: {message}",
    "dl.strip.tasks": "{tasks} tasks ({running} running, {paused} paused)", "dl.strip.active": "Running now: {names}",
    "dl.strip.idle": "Idle", "dl.strip.pending": "{count} entries waiting",
    "dl.strip.saved": "{count} pictures saved ({bytes})", "dl.strip.problems": "{failed} failed, {retrying} retrying",
    "dl.strip.lastRun": "Last run: {time}",
    "dl.preview.title": "Preview: {title}", "dl.preview.selectNew": "Select all new", "dl.preview.selectNone": "Select none",
    "dl.preview.download": "Download selected", "dl.preview.count": "{shown} of {total} entries · {selected} selected",
    "dl.preview.images": "images: {count}", "dl.preview.excluded": "excluded", "dl.preview.downloaded": "downloaded",
    "dl.preview.unseen": "not seen yet", "dl.preview.queued": "{count} entries queued for download.",
    "dl.preview.empty": "The feed has no entries.",
    "dl.es.new": "new", "dl.es.queued": "queued", "dl.es.partial": "partly done", "dl.es.done": "done",
    "dl.es.excluded": "excluded",
    "dl.taskLogs.title": "Logs: {title}",
  },
  "zh-CN": {
    "dl.title": "下载中心", "dl.tab.tasks": "任务", "dl.tab.history": "历史", "dl.tab.logs": "日志",
    "dl.tab.settings": "设置", "dl.add": "添加任务", "dl.noTasks": "还没有任务。添加一个 RSS 或 Atom 订阅开始吧。",
    "dl.col.title": "标题", "dl.col.feed": "订阅", "dl.col.status": "状态", "dl.col.interval": "间隔",
    "dl.col.next": "下次运行", "dl.col.last": "上次运行", "dl.col.stats": "计数", "dl.col.error": "最近错误",
    "dl.col.actions": "操作",
    "dl.status.running": "运行中", "dl.status.paused": "已暂停", "dl.active": "正在下载",
    "dl.minutes": "{n} 分钟", "dl.never": "从未", "dl.cookie": "已设置 Cookie",
    "dl.stats": "已保存 {saved} · 失败 {failed} · 条目 {entries} · {bytes}",
    "dl.act.run": "立即运行", "dl.act.pause": "暂停", "dl.act.resume": "恢复", "dl.act.edit": "编辑",
    "dl.act.preview": "预览", "dl.act.logs": "日志", "dl.act.delete": "删除",
    "dl.queued": "已排队：几秒内开始运行。", "dl.progress.queued": "排队中…",
    "dl.progress.feed": "正在读取订阅…", "dl.progress.images": "条目 {done}/{total} · 已保存 {saved}",
    "dl.progress.done": "已完成：保存 {saved}，失败 {failed}",
    "dl.deleteConfirm": "删除任务“{title}”？已保存的图片会留在相册中。",
    "dl.deleted": "任务已删除。", "dl.paused": "任务已暂停。", "dl.resumed": "任务已恢复。",
    "dl.runError": "{title}：{message}",
    "dl.strip.tasks": "{tasks} 个任务（{running} 个运行中，{paused} 个已暂停）", "dl.strip.active": "正在运行：{names}",
    "dl.strip.idle": "空闲", "dl.strip.pending": "{count} 个条目等待下载",
    "dl.strip.saved": "已保存 {count} 张图片（{bytes}）", "dl.strip.problems": "失败 {failed}，等待重试 {retrying}",
    "dl.strip.lastRun": "上次运行：{time}",
    "dl.preview.title": "预览：{title}", "dl.preview.selectNew": "选择全部新条目", "dl.preview.selectNone": "全部不选",
    "dl.preview.download": "下载所选", "dl.preview.count": "显示 {shown} / 共 {total} 个条目 · 已选 {selected}",
    "dl.preview.images": "{count} 张图片", "dl.preview.excluded": "已排除", "dl.preview.downloaded": "已下载",
    "dl.preview.unseen": "尚未见过", "dl.preview.queued": "{count} 个条目已加入下载队列。",
    "dl.preview.empty": "该订阅没有条目。",
    "dl.es.new": "新", "dl.es.queued": "排队中", "dl.es.partial": "部分完成", "dl.es.done": "已完成",
    "dl.es.excluded": "已排除",
    "dl.taskLogs.title": "日志：{title}",
  },
});

export function mount(container, params, app) {
  return adminGate(container, app, (el) => renderDownloads(el, app, params.query?.get("tab")));
}

function renderDownloads(root, app, wantedTab) {
  const state = { tasks: [], progress: new Map(), rows: new Map(), tab: null, disposed: false };
  const titleOf = (id) => state.tasks.find((task) => task.id === id)?.title || `#${id}`;
  const strip = h("div", { class: "dl-status", id: "dl-status", "aria-live": "polite" });
  const detail = h("div", { class: "dl-detail", id: "dl-detail" });
  const tbody = h("tbody");
  const empty = h("p", { class: "dl-empty", hidden: true }, t("dl.noTasks"));
  const tasksPanel = h("div", { class: "dl-panel", id: "dl-tasks-panel" },
    h("div", { class: "dl-toolbar" },
      h("button", { class: "button primary", type: "button", id: "dl-add", onclick: () => openForm(null) }, t("dl.add")),
      h("button", { class: "button ghost", type: "button", onclick: () => refresh() }, t("common.refresh"))),
    detail,
    h("div", { class: "dl-table-wrap" }, h("table", { class: "table dl-table", id: "dl-tasks" },
      h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, t(`dl.col.${name}`))))), tbody)),
    empty);
  const panels = {
    tasks: { element: tasksPanel, refresh: () => refresh() },
    history: historyPanel(app, () => state.tasks),
    logs: logsPanel(titleOf),
    settings: settingsPanel({ onImported: () => refresh() }),
  };
  const tabButtons = TABS.map((name) => h("button", {
    class: "tab", type: "button", role: "tab", "data-tab": name, "aria-selected": "false", onclick: () => select(name),
  }, t(`dl.tab.${name}`)));
  const body = h("div", { class: "dl-body" });
  root.append(h("section", { class: "dl-center" },
    h("header", { class: "dl-head" }, h("h1", {}, t("dl.title")), strip),
    h("nav", { class: "tabs", role: "tablist" }, tabButtons), body));

  function select(name) {
    state.tab = name;
    for (const button of tabButtons) button.setAttribute("aria-selected", String(button.dataset.tab === name));
    body.replaceChildren(panels[name].element);
    history.replaceState(null, "", name === "tasks" ? "#/downloads" : `#/downloads?tab=${name}`);
    panels[name].refresh();
    if (name !== "tasks") refresh();  // the other tabs name tasks; keep them current
  }

  // ---- tasks and status: fetched together, throttled ------------------------------------------------
  let timer = null;
  let timerDue = 0;
  let lastRefresh = 0;
  let seq = 0;

  function scheduleRefresh(delayMs = 0) {
    const due = Math.max(Date.now() + delayMs, lastRefresh + REFRESH_MIN_MS);
    if (timer && timerDue <= due) return;
    clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(() => { timer = null; refresh({ quiet: true }); }, due - Date.now());
  }

  async function refresh({ quiet = false } = {}) {
    lastRefresh = Date.now();
    const ticket = ++seq;
    let list;
    let status;
    try {
      [list, status] = await Promise.all([
        api("api/download/tasks", { admin: true, quiet }), api("api/download/status", { admin: true, quiet }),
      ]);
    } catch {
      return;
    }
    if (state.disposed || ticket !== seq) return;
    state.tasks = list.items;
    forgetFinished(status.activeTaskIds);
    renderStrip(status);
    renderRows();
    if (status.activeTaskIds.length || state.progress.size) scheduleRefresh(ACTIVE_POLL_MS);
  }

  // A run's progress is shown until the task is no longer active AND its lastRunAt changed: the run
  // releases its lease a moment before it writes its counters, and no event follows those.
  function forgetFinished(activeIds) {
    for (const [id, progress] of state.progress) {
      const task = state.tasks.find((candidate) => candidate.id === id);
      const settled = task && (task.lastRunAt !== progress.before || Date.now() - progress.at > PROGRESS_FORGET_MS);
      if (!task || (!activeIds.includes(id) && settled)) state.progress.delete(id);
    }
  }

  function track(taskId, data) {
    const before = state.progress.get(taskId)?.before ?? state.tasks.find((task) => task.id === taskId)?.lastRunAt ?? null;
    state.progress.set(taskId, { ...data, before, at: Date.now() });
  }

  function renderStrip(s) {
    const names = s.activeTaskIds.map(titleOf).join(", ");
    const stat = (name, text, cls) => h("span", { class: `dl-stat ${cls || ""}`, "data-stat": name }, text);
    strip.replaceChildren(...[
      stat("tasks", t("dl.strip.tasks", { tasks: s.tasks, running: s.runningTasks, paused: s.pausedTasks })),
      stat("active", names ? t("dl.strip.active", { names }) : t("dl.strip.idle"), names ? "busy" : ""),
      stat("pending", t("dl.strip.pending", { count: s.pendingEntries })),
      stat("saved", t("dl.strip.saved", { count: s.downloads.ok, bytes: formatBytes(s.bytesSaved) })),
      s.downloads.failed || s.downloads.retrying
        ? stat("problems", t("dl.strip.problems", s.downloads), "warn") : null,
      s.lastRunAt ? stat("lastRun", t("dl.strip.lastRun", { time: formatTime(s.lastRunAt) })) : null,
    ].filter(Boolean));
  }

  // Rows are rebuilt only when their task or progress changed, so a button under the pointer stays put.
  function renderRows() {
    const rows = state.tasks.map((task) => {
      const signature = JSON.stringify([task, state.progress.get(task.id) || null]);
      const old = state.rows.get(task.id);
      if (old && old.signature === signature) return old.row;
      const row = taskRow(task);
      old?.row.replaceWith(row);
      state.rows.set(task.id, { signature, row });
      return row;
    });
    for (const id of state.rows.keys()) if (!state.tasks.some((task) => task.id === id)) state.rows.delete(id);
    const current = [...tbody.children];
    if (current.length !== rows.length || rows.some((row, n) => current[n] !== row)) tbody.replaceChildren(...rows);
    empty.hidden = rows.length > 0;
  }

  function taskRow(task) {
    const progress = state.progress.get(task.id);
    const active = task.active || (progress && ["feed", "images"].includes(progress.phase));
    const cell = (name, ...children) => h("td", { "data-col": name, "data-label": t(`dl.col.${name}`) }, ...children);
    const s = task.stats;
    return h("tr", { "data-task-id": task.id, "data-status": task.status, class: active ? "dl-active" : null },
      cell("title", h("a", { href: app.albumHash(task.targetFolder), class: "dl-task-title" }, task.title),
        h("small", { class: "dl-sub" }, [task.targetFolder, task.category, ...task.tags].filter(Boolean).join(" · ")),
        task.hasCookie ? h("small", { class: "badge" }, t("dl.cookie")) : null),
      cell("feed", h("span", { class: "dl-url", title: task.feedUrl }, task.feedUrl)),
      cell("status", h("span", { class: `badge dl-${task.status}` }, t(`dl.status.${task.status}`)),
        active ? h("span", { class: "badge dl-busy" }, t("dl.active")) : null,
        h("div", { class: "dl-progress", "data-progress": progress?.phase || "" }, progressText(progress))),
      cell("interval", t("dl.minutes", { n: task.interval })),
      cell("next", formatTime(task.nextRunAt) || "—"),
      cell("last", formatTime(task.lastRunAt) || t("dl.never")),
      h("td", { "data-col": "stats", "data-label": t("dl.col.stats"), "data-saved": s.imagesSaved, "data-failed": s.imagesFailed },
        t("dl.stats", { saved: s.imagesSaved, failed: s.imagesFailed, entries: s.entriesSeen, bytes: formatBytes(s.bytesSaved) })),
      cell("error", task.lastError ? h("span", { class: "dl-error" }, task.lastError) : ""),
      cell("actions", h("div", { class: "dl-row-actions" }, actions(task))));
  }

  function progressText(p) {
    if (!p || p.phase === "error") return "";
    if (p.phase === "queued" || p.phase === "feed") return t(`dl.progress.${p.phase}`);
    if (p.phase === "done") return t("dl.progress.done", { saved: p.saved, failed: p.failed });
    return t("dl.progress.images", { done: p.entriesDone, total: p.entriesTotal, saved: p.saved });
  }

  function actions(task) {
    const button = (action, onclick, cls = "ghost") =>
      h("button", { class: `button ${cls}`, type: "button", "data-action": action, onclick }, t(`dl.act.${action}`));
    return [
      button("run", () => run(task)),
      task.status === "paused" ? button("resume", () => setState(task, "resume")) : button("pause", () => setState(task, "pause")),
      button("edit", () => openForm(task)),
      button("preview", () => openDetail(previewPanel(task))),
      button("logs", () => openDetail(taskLogs(task))),
      button("delete", () => remove(task), "danger"),
    ];
  }

  // ---- row actions ----------------------------------------------------------------------------------
  async function run(task) {
    try {
      await api(`api/download/tasks/${task.id}/run`, { method: "POST", admin: true });
    } catch {
      return;
    }
    toast(t("dl.queued"));
    track(task.id, { phase: "queued" });
    renderRows();
    scheduleRefresh(ACTIVE_POLL_MS);
  }

  async function setState(task, action) {
    let saved;
    try {
      saved = await api(`api/download/tasks/${task.id}/${action}`, { method: "POST", admin: true });
    } catch {
      return;
    }
    toast(t(action === "pause" ? "dl.paused" : "dl.resumed"));
    replaceTask(saved);
    scheduleRefresh();
  }

  async function remove(task) {
    if (!window.confirm(t("dl.deleteConfirm", { title: task.title }))) return;
    try {
      await api(`api/download/tasks/${task.id}`, { method: "DELETE", admin: true });
    } catch {
      return;
    }
    toast(t("dl.deleted"));
    state.tasks = state.tasks.filter((candidate) => candidate.id !== task.id);
    state.progress.delete(task.id);
    if (detail.dataset.taskId === String(task.id)) closeDetail();
    renderRows();
    scheduleRefresh();
  }

  function replaceTask(saved) {
    const at = state.tasks.findIndex((task) => task.id === saved.id);
    if (at >= 0) state.tasks[at] = { ...state.tasks[at], ...saved, active: state.tasks[at].active };
    else state.tasks.push(saved);
    renderRows();
  }

  function openForm(task) {
    openDetail(taskForm(task, {
      onSaved: (saved) => { closeDetail(); replaceTask(saved); scheduleRefresh(); },
      onCancel: closeDetail,
    }), task);
  }

  function openDetail(element, task = null) {
    detail.replaceChildren(element);
    if (task || element.dataset.taskId) detail.dataset.taskId = String(task?.id ?? element.dataset.taskId);
    else delete detail.dataset.taskId;
    detail.scrollIntoView?.({ block: "nearest" });
  }

  function closeDetail() {
    detail.replaceChildren();
    delete detail.dataset.taskId;
  }

  const closeButton = () => h("button", { class: "button ghost dl-close", type: "button", onclick: closeDetail }, t("common.close"));

  // ---- preview: the live feed's entries, pick some, download them -----------------------------------
  function previewPanel(task) {
    const list = h("ul", { class: "dl-entries" });
    const summary = h("p", { class: "dl-muted", role: "status" }, t("common.loading"));
    const download = h("button", { class: "button primary", type: "button", id: "dl-download-selected", disabled: true,
      onclick: downloadSelected }, t("dl.preview.download"));
    const boxes = () => [...list.querySelectorAll("input[data-entry-key]")];
    let total = 0;
    const recount = () => {
      const selected = boxes().filter((box) => box.checked).length;
      download.disabled = selected === 0;
      summary.textContent = t("dl.preview.count", { shown: boxes().length, total, selected });
    };
    const pickWhere = (test) => { for (const box of boxes()) box.checked = !box.disabled && test(box); recount(); };
    const element = h("section", { class: "card dl-preview", id: "dl-preview", "data-task-id": task.id, "aria-busy": "true" },
      h("div", { class: "dl-card-head" }, h("h2", {}, t("dl.preview.title", { title: task.title })), closeButton()),
      summary,
      h("div", { class: "dl-toolbar" },
        h("button", { class: "button ghost", type: "button", id: "dl-select-new",
          onclick: () => pickWhere((box) => box.dataset.new === "true") }, t("dl.preview.selectNew")),
        h("button", { class: "button ghost", type: "button", onclick: () => pickWhere(() => false) }, t("dl.preview.selectNone")),
        download),
      list);

    function entryItem(entry) {
      const fresh = !entry.downloaded && !entry.excluded && entry.imageUrls.length > 0 && !["done", "queued"].includes(entry.status);
      const box = h("input", { type: "checkbox", "data-entry-key": entry.key, "data-new": String(fresh),
        disabled: entry.imageUrls.length === 0, onchange: recount, "aria-label": entry.title || entry.key });
      const link = /^https?:\/\//i.test(entry.link || "")
        ? h("a", { href: entry.link, target: "_blank", rel: "noopener noreferrer" }, entry.title || entry.key)
        : h("span", {}, entry.title || entry.key);
      return h("li", { class: "dl-entry" }, h("label", { class: "dl-entry-pick" }, box),
        h("div", { class: "dl-entry-body" }, link,
          h("small", { class: "dl-muted" }, [formatTime(entry.published),
            t("dl.preview.images", { count: entry.imageUrls.length })].filter(Boolean).join(" · ")),
          h("span", { class: "dl-flags" },
            entry.excluded ? h("span", { class: "badge dl-excluded" }, t("dl.preview.excluded")) : null,
            entry.downloaded ? h("span", { class: "badge dl-downloaded" }, t("dl.preview.downloaded")) : null,
            h("span", { class: "badge" }, entry.status ? named("dl.es", entry.status) : t("dl.preview.unseen")))));
    }

    async function load() {
      try {
        const answer = await api(`api/download/tasks/${task.id}/preview`, { admin: true, quiet: true });
        total = answer.total;
        list.replaceChildren(...answer.entries.map(entryItem));
        if (!answer.entries.length) list.append(h("li", { class: "dl-empty" }, t("dl.preview.empty")));
        recount();
      } catch (error) {
        summary.textContent = "";
        summary.append(h("span", { class: "dl-error" }, error.message));
      } finally {
        element.removeAttribute("aria-busy");
      }
    }

    async function downloadSelected() {
      const keys = boxes().filter((box) => box.checked).map((box) => box.dataset.entryKey);
      download.disabled = true;
      try {
        const answer = await api(`api/download/tasks/${task.id}/download`, { method: "POST", body: { entries: keys }, admin: true });
        toast(t("dl.preview.queued", { count: answer.queued }));
        track(task.id, { phase: "queued" });
        renderRows();
        scheduleRefresh(ACTIVE_POLL_MS);
      } catch {
        /* the toast said why */
      } finally {
        recount();
      }
    }
    load();
    return element;
  }

  function taskLogs(task) {
    const lines = logList(`api/download/tasks/${task.id}/logs`, titleOf);
    lines.load();
    return h("section", { class: "card dl-task-logs", id: "dl-task-logs", "data-task-id": task.id },
      h("div", { class: "dl-card-head" }, h("h2", {}, t("dl.taskLogs.title", { title: task.title })), closeButton()),
      h("div", { class: "dl-toolbar" }, lines.filter,
        h("button", { class: "button ghost", type: "button", onclick: () => lines.load() }, t("common.refresh"))),
      lines.list, lines.empty, lines.more);
  }

  // ---- live events ----------------------------------------------------------------------------------
  const onProgress = (event) => {
    const data = event.detail || {};
    track(data.taskId, data);
    if (state.tasks.some((task) => task.id === data.taskId)) renderRows();
    scheduleRefresh(data.phase === "done" ? 0 : ACTIVE_POLL_MS);
  };
  const onComplete = () => {
    scheduleRefresh();
    if (state.tab === "history" || state.tab === "logs") panels[state.tab].refresh();
  };
  const onError = (event) => {
    const data = event.detail || {};
    toast(t("dl.runError", { title: titleOf(data.taskId), message: data.message || data.code || "" }), "error");
    track(data.taskId, { phase: "error" });
    renderRows();
    scheduleRefresh();
  };
  const listeners = [["download-progress", onProgress], ["download-complete", onComplete], ["download-error", onError]];
  for (const [type, listener] of listeners) app.live.addEventListener(type, listener);

  select(TABS.includes(wantedTab) ? wantedTab : "tasks");

  return {
    dispose() {
      state.disposed = true;
      clearTimeout(timer);
      for (const [type, listener] of listeners) app.live.removeEventListener(type, listener);
    },
    onKey(event) {
      if (event.key === "Escape" && detail.childElementCount) {
        closeDetail();
        return true;
      }
      const index = Number(event.key) - 1;
      if (Number.isInteger(index) && index >= 0 && index < TABS.length) {
        select(TABS[index]);
        return true;
      }
      if (event.key === "n" && state.tab === "tasks") {
        openForm(null);
        return true;
      }
      return false;
    },
  };
}
