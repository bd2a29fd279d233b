// The download center (admin only): its tabs (Tasks, History, Logs, Settings), the status strip, and
// the live download-* events passed on to the panels, which live in the downloads-*.js modules.
// Talks to /api/download/* only, never to the gallery.
//
//   #/downloads            the Tasks tab        #/downloads?tab=logs   another tab (kept on reload)

import { formatBytes, formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { adminGate } from "./admin.js";
import { historyPanel } from "./downloads-history.js";
import { logsPanel } from "./downloads-logs.js";
import { settingsPanel } from "./downloads-settings.js";
import { TasksPanel } from "./downloads-tasks.js";

const TABS = ["tasks", "history", "logs", "settings"];

addStrings({
  en: {
    "dl.title": "Download center", "dl.tab.tasks": "Tasks", "dl.tab.history": "History", "dl.tab.logs": "Logs",
    "dl.tab.settings": "Settings",
    "dl.runError": "{title}: {message}",
    "dl.strip.tasks": "{tasks} tasks ({running} running, {paused} paused)", "dl.strip.active": "Running now: {names}",
    "dl.strip.idle": "Idle", "dl.strip.pending": "{count} entries waiting",
    "dl.strip.saved": "{count} pictures saved ({bytes})", "dl.strip.problems": "{failed} failed, {retrying} retrying",
    "dl.strip.lastRun": "Last run: {time}",
  },
  "zh-CN": {
    "dl.title": "下载中心", "dl.tab.tasks": "任务", "dl.tab.history": "历史", "dl.tab.logs": "日志",
    "dl.tab.settings": "设置",
    "dl.runError": "{title}：{message}",
    "dl.strip.tasks": "{tasks} 个任务（{running} 个运行中，{paused} 个已暂停）", "dl.strip.active": "正在运行：{names}",
    "dl.strip.idle": "空闲", "dl.strip.pending": "{count} 个条目等待下载",
    "dl.strip.saved": "已保存 {count} 张图片（{bytes}）", "dl.strip.problems": "失败 {failed}，等待重试 {retrying}",
    "dl.strip.lastRun": "上次运行：{time}",
  },
});

export function mount(container, params, app) {
  return adminGate(container, app, (el) => new DownloadCenter(el, app, params.query?.get("tab")));
}

class DownloadCenter {
  constructor(root, app, wantedTab) {
    this.app = app;
    this.tab = null;
    this.strip = h("div", { class: "dl-status", id: "dl-status", "aria-live": "polite" });
    this.tasks = new TasksPanel(app, { onStatus: (status) => this.renderStrip(status) });
    const titleOf = (id) => this.tasks.titleOf(id);
    this.panels = {
      tasks: this.tasks,
      history: historyPanel(app, () => this.tasks.tasks),
      logs: logsPanel(titleOf),
      settings: settingsPanel({ onImported: () => this.tasks.refresh() }),
    };
    this.tabButtons = TABS.map((name) => h("button", {
      class: "tab", type: "button", role: "tab", "data-tab": name, "aria-selected": "false", onclick: () => this.select(name),
    }, t(`dl.tab.${name}`)));
    this.body = h("div", { class: "dl-body" });
    root.append(h("section", { class: "dl-center" },
      h("header", { class: "dl-head" }, h("h1", {}, t("dl.title")), this.strip),
      h("nav", { class: "tabs", role: "tablist" }, this.tabButtons), this.body));
    this.listeners = this.listen();
    this.select(TABS.includes(wantedTab) ? wantedTab : "tasks");
  }

  select(name) {
    this.tab = name;
    for (const button of this.tabButtons) button.setAttribute("aria-selected", String(button.dataset.tab === name));
    this.body.replaceChildren(this.panels[name].element);
    history.replaceState(null, "", name === "tasks" ? "#/downloads" : `#/downloads?tab=${name}`);
    this.panels[name].refresh();
    if (name !== "tasks") this.tasks.refresh();  // the other tabs name tasks; keep them current
  }

  renderStrip(s) {
    const names = s.activeTaskIds.map((id) => this.tasks.titleOf(id)).join(", ");
    const stat = (name, text, cls) => h("span", { class: `dl-stat ${cls || ""}`, "data-stat": name }, text);
    this.strip.replaceChildren(...[
      stat("tasks", t("dl.strip.tasks", { tasks: s.tasks, running: s.runningTasks, paused: s.pausedTasks })),
      stat("active", names ? t("dl.strip.active", { names }) : t("dl.strip.idle"), names ? "busy" : ""),
      stat("pending", t("dl.strip.pending", { count: s.pendingEntries })),
      stat("saved", t("dl.strip.saved", { count: s.downloads.ok, bytes: formatBytes(s.bytesSaved) })),
      s.downloads.failed || s.downloads.retrying
        ? stat("problems", t("dl.strip.problems", s.downloads), "warn") : null,
      s.lastRunAt ? stat("lastRun", t("dl.strip.lastRun", { time: formatTime(s.lastRunAt) })) : null,
    ].filter(Boolean));
  }

  // The live events this view follows, as [type, listener] pairs (already added to app.live).
  listen() {
    const onProgress = (event) => this.tasks.onProgress(event.detail || {});
    const onComplete = () => {
      this.tasks.scheduleRefresh();
      if (this.tab === "history" || this.tab === "logs") this.panels[this.tab].refresh();
    };
    const onError = (event) => {
      const data = event.detail || {};
      toast(t("dl.runError", { title: this.tasks.titleOf(data.taskId), message: data.message || data.code || "" }), "error");
      this.tasks.onError(data);
    };
    const listeners = [["download-progress", onProgress], ["download-complete", onComplete], ["download-error", onError]];
    for (const [type, listener] of listeners) this.app.live.addEventListener(type, listener);
    return listeners;
  }

  dispose() {
    this.tasks.dispose();
    for (const [type, listener] of this.listeners) this.app.live.removeEventListener(type, listener);
  }

  // Escape closes the detail area, 1–4 pick a tab, n opens the task form on the Tasks tab.
  onKey(event) {
    if (event.key === "Escape" && this.tasks.closeDetailIfOpen()) return true;
    const index = Number(event.key) - 1;
    if (Number.isInteger(index) && index >= 0 && index < TABS.length) {
      this.select(TABS[index]);
      return true;
    }
    if (event.key === "n" && this.tab === "tasks") {
      this.tasks.openForm(null);
      return true;
    }
    return false;
  }
}
