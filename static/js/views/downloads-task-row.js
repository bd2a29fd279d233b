// One row of the tasks table, and the table's head: a task's settings, status, live progress, counters
// and action buttons. Rendering only: the caller keeps the state and says what each button does.

import { formatBytes, formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";

const COLUMNS = ["title", "feed", "status", "interval", "next", "last", "stats", "error", "actions"];

addStrings({
  en: {
    "dl.col.title": "Title", "dl.col.feed": "Feed", "dl.col.status": "Status", "dl.col.interval": "Every",
    "dl.col.next": "Next run", "dl.col.last": "Last run", "dl.col.stats": "Counters", "dl.col.error": "Last error",
    "dl.col.actions": "Actions",
    "dl.status.running": "running", "dl.status.paused": "paused", "dl.active": "active now",
    "dl.state.failing": "failing", "dl.state.failingTitle": "Enabled; its last run failed: {error}",
    "dl.minutes": "{n} min", "dl.never": "never", "dl.cookie": "cookie set",
    "dl.stats": { of: "entries", one: "{saved} saved · {failed} failed · {entries} entry · {bytes}",
      other: "{saved} saved · {failed} failed · {entries} entries · {bytes}" },
    "dl.act.run": "Run now", "dl.act.pause": "Pause", "dl.act.resume": "Resume", "dl.act.edit": "Edit",
    "dl.act.preview": "Preview", "dl.act.logs": "Logs", "dl.act.delete": "Delete",
    "dl.progress.queued": "queued…",
    "dl.progress.feed": "reading the feed…", "dl.progress.images": "{done}/{total} entries · {saved} saved",
    "dl.progress.done": "finished: {saved} saved, {failed} failed",
  },
  "zh-CN": {
    "dl.col.title": "标题", "dl.col.feed": "订阅", "dl.col.status": "状态", "dl.col.interval": "间隔",
    "dl.col.next": "下次运行", "dl.col.last": "上次运行", "dl.col.stats": "计数", "dl.col.error": "最近错误",
    "dl.col.actions": "操作",
    "dl.status.running": "运行中", "dl.status.paused": "已暂停", "dl.active": "正在下载",
    "dl.state.failing": "出错", "dl.state.failingTitle": "已启用；上次运行失败：{error}",
    "dl.minutes": "{n} 分钟", "dl.never": "从未", "dl.cookie": "已设置 Cookie",
    "dl.stats": "已保存 {saved} · 失败 {failed} · 条目 {entries} · {bytes}",
    "dl.act.run": "立即运行", "dl.act.pause": "暂停", "dl.act.resume": "恢复", "dl.act.edit": "编辑",
    "dl.act.preview": "预览", "dl.act.logs": "日志", "dl.act.delete": "删除",
    "dl.progress.queued": "排队中…",
    "dl.progress.feed": "正在读取订阅…", "dl.progress.images": "条目 {done}/{total} · 已保存 {saved}",
    "dl.progress.done": "已完成：保存 {saved}，失败 {failed}",
  },
});

export function tableHead() {
  return h("thead", {}, h("tr", {}, COLUMNS.map((name) => h("th", { scope: "col" }, t(`dl.col.${name}`)))));
}

// `progress` is the last download-progress event seen for the task, if any; `onAction(action, task)`
// runs a button ("run", "pause", "resume", "edit", "preview", "logs", "delete").
export function taskRow(task, progress, { albumHash, onAction }) {
  const active = task.active || (progress && ["feed", "images"].includes(progress.phase));
  const s = task.stats;
  return h("tr", { "data-task-id": task.id, "data-status": task.status, class: active ? "dl-active" : null },
    cell("title", h("a", { href: albumHash(task.targetFolder), class: "dl-task-title" }, task.title),
      h("small", { class: "dl-sub" }, [task.targetFolder, task.category, ...task.tags].filter(Boolean).join(" · ")),
      task.hasCookie ? h("small", { class: "badge" }, t("dl.cookie")) : null),
    cell("feed", h("span", { class: "dl-url", title: task.feedUrl }, task.feedUrl)),
    cell("status", stateBadge(task, active),
      active ? h("span", { class: "badge dl-busy" }, t("dl.active")) : null,
      h("div", { class: "dl-progress", "data-progress": progress?.phase || "" }, progressText(progress))),
    cell("interval", t("dl.minutes", { n: task.interval })),
    cell("next", formatTime(task.nextRunAt) || "—"),
    cell("last", formatTime(task.lastRunAt) || t("dl.never")),
    h("td", { "data-col": "stats", "data-label": t("dl.col.stats"), "data-saved": s.imagesSaved, "data-failed": s.imagesFailed },
      t("dl.stats", { saved: s.imagesSaved, failed: s.imagesFailed, entries: s.entriesSeen, bytes: formatBytes(s.bytesSaved) })),
    cell("error", task.lastError ? h("span", { class: "dl-error" }, task.lastError) : ""),
    cell("actions", h("div", { class: "dl-row-actions" }, actionButtons(task, onAction))));
}

// What the task is doing, in words that match it: paused; running (now, or enabled and last run fine); failing
// (enabled, idle, and its last run failed: "running" would say all is well).
export function taskState(task, active) {
  if (task.status === "paused") return "paused";
  return !active && task.lastError ? "failing" : "running";
}

function stateBadge(task, active) {
  const state = taskState(task, active);
  if (state !== "failing") return h("span", { class: `badge dl-${state}`, "data-state": state }, t(`dl.status.${state}`));
  return h("span", { class: "badge danger dl-failing", "data-state": state,
    title: t("dl.state.failingTitle", { error: task.lastError }) }, t("dl.state.failing"));
}

function cell(name, ...children) {
  return h("td", { "data-col": name, "data-label": t(`dl.col.${name}`) }, ...children);
}

function progressText(p) {
  if (!p || p.phase === "error") return "";
  if (p.phase === "queued" || p.phase === "feed") return t(`dl.progress.${p.phase}`);
  if (p.phase === "done") return t("dl.progress.done", { saved: p.saved, failed: p.failed });
  return t("dl.progress.images", { done: p.entriesDone, total: p.entriesTotal, saved: p.saved });
}

function actionButtons(task, onAction) {
  const button = (action, cls = "ghost") => h("button", { class: `button ${cls}`, type: "button", "data-action": action,
    onclick: () => onAction(action, task) }, t(`dl.act.${action}`));
  return [
    button("run"), button(task.status === "paused" ? "resume" : "pause"), button("edit"), button("preview"),
    button("logs"), button("delete", "danger"),
  ];
}
