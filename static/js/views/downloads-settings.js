// The Settings tab: the download config form (GET/PUT /api/download/config, a field error next to its
// input) and the OPML card (import in merge or replace mode, export as a file). No task state here.

import { api } from "../api.js";
import { formatBytes, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { clearErrors, field, notNumber, showError, words } from "./downloads-forms.js";

const REVOKE_AFTER_MS = 1000;
const CONFIG_KEYS = [
  "allowPrivateHosts", "allowedPorts", "maxConcurrentFeeds", "maxConcurrentDownloads", "perHostConcurrency",
  "connectTimeoutSeconds", "feedTimeoutSeconds", "imageTimeoutSeconds", "maxRedirects", "maxFeedBytes",
  "maxImageBytes", "minImageBytes", "minImageWidth", "minImageHeight", "defaultIntervalMinutes", "maxAttempts",
  "retryBackoffSeconds",
];

addStrings({
  en: {
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

// The tab as { element, refresh }; `onImported()` runs after an OPML import changed the tasks.
export function settingsPanel({ onImported }) {
  const config = new ConfigForm();
  const element = h("div", { class: "dl-panel dl-settings", id: "dl-settings" }, config.element,
    new OpmlCard(onImported).form);
  return { element, refresh: () => config.load() };
}

// Every key GET /config answers, typed by its value: a checkbox, a port list, or a number; known keys
// in a sensible order (the server sorts them alphabetically), unknown ones after them under their name.
class ConfigForm {
  constructor() {
    this.loaded = {};
    this.grid = h("div", { class: "dl-grid" });
    this.button = h("button", { class: "button primary", type: "submit" }, t("dl.config.save"));
    this.element = h("form", { class: "card dl-form", id: "dl-config-form", novalidate: true, onsubmit: (event) => this.save(event) },
      h("h2", {}, t("dl.config.title")), this.grid, h("p", { class: "form-message", role: "alert" }),
      h("div", { class: "dl-actions" }, this.button));
  }

  async load() {
    try {
      this.show(await api("api/download/config", { admin: true }));
    } catch {
      /* the toast said why */
    }
  }

  show(values) {
    this.loaded = values;
    const rank = (key) => (CONFIG_KEYS.includes(key) ? CONFIG_KEYS.indexOf(key) : CONFIG_KEYS.length);
    const keys = Object.keys(values).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    this.grid.replaceChildren(...keys.map((key) => configInput(key, values[key])));
  }

  // The value typed into `key`'s input, of the type the server sent; throws for a number that is not one.
  read(key) {
    const box = this.element.querySelector(`[name="${CSS.escape(key)}"]`);
    const before = this.loaded[key];
    if (typeof before === "boolean") return box.checked;
    if (Array.isArray(before)) return words(box.value).map((word) => (/^\d+$/.test(word) ? Number(word) : word));
    if (typeof before === "number") {
      if (box.validity.badInput || box.value.trim() === "") throw notNumber(key);
      return Number(box.value);
    }
    return box.value;
  }

  changes() {
    const changes = {};
    for (const key of Object.keys(this.loaded)) {
      const value = this.read(key);
      if (JSON.stringify(value) !== JSON.stringify(this.loaded[key])) changes[key] = value;
    }
    return changes;
  }

  async save(event) {
    event.preventDefault();
    clearErrors(this.element);
    let changes;
    try {
      changes = this.changes();
    } catch (error) {
      showError(this.element, error);
      return;
    }
    if (!Object.keys(changes).length) {
      this.element.querySelector(".form-message").textContent = t("dl.config.unchanged");
      return;
    }
    this.button.disabled = true;
    try {
      this.show(await api("api/download/config", { method: "PUT", body: changes, admin: true, quiet: true }));
      toast(t("dl.config.saved"));
    } catch (error) {
      showError(this.element, error);
    } finally {
      this.button.disabled = false;
    }
  }
}

function configInput(key, value) {
  const label = CONFIG_KEYS.includes(key) ? t(`dl.config.${key}`) : key;
  if (typeof value === "boolean") {
    return h("label", { class: "dl-check", "data-field": key }, h("input", { type: "checkbox", name: key, checked: value }),
      label, h("small", { class: "dl-field-error", "data-error-for": key }));
  }
  if (Array.isArray(value)) {
    return field(key, label, h("input", { type: "text", name: key, value: value.join(", "), inputmode: "numeric" }),
      t("dl.config.portsHint"));
  }
  if (typeof value === "number") {
    const box = h("input", { type: "number", name: key, value, step: "any", min: 0 });
    const wrapper = field(key, label, box);
    if (/Bytes$/.test(key)) {  // the size in KB/MB after the box, kept current while typing
      const hint = h("small", { class: "dl-hint" }, formatBytes(value));
      box.addEventListener("input", () => { hint.textContent = formatBytes(Number(box.value)); });
      box.after(hint);
    }
    return wrapper;
  }
  return field(key, label, h("input", { type: "text", name: key, value: String(value ?? "") }));
}

// Import (merge or replace) and export of the tasks as OPML.
class OpmlCard {
  constructor(onImported) {
    this.onImported = onImported;
    this.file = h("input", { id: "dl-opml-file", type: "file", name: "file", accept: ".opml,.xml,text/x-opml,text/xml,application/xml" });
    const mode = (value, checked) => h("label", { class: "dl-check" },
      h("input", { type: "radio", name: "mode", value, checked }), t(`dl.opml.${value}`));
    this.result = h("div", { class: "dl-opml-result", id: "dl-opml-result", role: "status" });
    this.importButton = h("button", { class: "button primary", type: "submit", id: "dl-opml-import" }, t("dl.opml.import"));
    const exportButton = h("button", { class: "button", type: "button", id: "dl-opml-export", onclick: exportFeeds },
      t("dl.opml.export"));
    this.form = h("form", { class: "card dl-form", id: "dl-opml-form", onsubmit: (event) => this.importFeeds(event) },
      h("h2", {}, t("dl.opml.title")),
      h("label", { class: "dl-field" }, h("span", { class: "dl-label" }, t("dl.opml.file")), this.file),
      h("fieldset", { class: "dl-modes" }, mode("merge", true), mode("replace", false)),
      h("div", { class: "dl-actions" }, this.importButton, exportButton), this.result);
  }

  // Replace mode asks first: it deletes every task the file does not name.
  async importFeeds(event) {
    event.preventDefault();
    const { file, result } = this;
    result.replaceChildren();
    result.classList.remove("error");
    const chosen = this.form.querySelector("input[name=mode]:checked").value;
    if (!file.files.length) {
      result.classList.add("error");
      result.textContent = t("dl.opml.noFile");
      return;
    }
    if (chosen === "replace" && !window.confirm(t("dl.opml.replaceConfirm"))) return;
    this.importButton.disabled = true;
    try {
      showImported(result, await uploadOpml(file.files[0], chosen));
      file.value = "";
      this.onImported();
    } catch (error) {
      result.classList.add("error");
      result.textContent = error.message;
    } finally {
      this.importButton.disabled = false;
    }
  }
}

function uploadOpml(file, mode) {
  const body = new FormData();
  body.append("file", file);
  body.append("mode", mode);
  return api("api/download/opml", { method: "POST", body, admin: true, quiet: true });
}

function showImported(result, answer) {
  result.append(h("p", {}, t("dl.opml.result", { ...answer, skipped: answer.skipped.length })));
  if (answer.skipped.length) {
    result.append(h("ul", { class: "dl-skipped" },
      answer.skipped.map((item) => h("li", {}, h("code", {}, item.url || "?"), " — ", item.reason))));
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
