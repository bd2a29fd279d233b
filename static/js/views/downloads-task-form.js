// The task form, to add a feed (POST /api/download/tasks) or edit one (PATCH, only what changed). A
// 400's message shows next to the input the server names; the tasks table is its caller's business.

import { api } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { clearErrors, field, notNumber, option, showError, words } from "./downloads-forms.js";

const TEXT_FIELDS = ["feedUrl", "title", "targetFolder", "category"];
const LIST_FIELDS = ["tags", "excludeKeywords"];

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
  },
});

// Add (task = null) or edit one task. A PATCH sends only what changed, so the server's defaults
// (title from the feed, Downloads/<title>) stay defaults; an empty cookie field keeps the cookie.
// `onSaved(task)` gets the server's answer; `onCancel()` also runs when an edit changed nothing.
export function taskForm(task, { onSaved, onCancel }) {
  return new TaskForm(task, onSaved, onCancel).form;
}

class TaskForm {
  constructor(task, onSaved, onCancel) {
    Object.assign(this, { task, onSaved, onCancel });
    this.editing = Boolean(task);
    this.initial = this.editing ? {
      ...Object.fromEntries(TEXT_FIELDS.map((name) => [name, task[name] || ""])),
      interval: task.interval, status: task.status, tags: task.tags.join(", "),
      excludeKeywords: task.excludeKeywords.join(", "),
    } : {};
    this.inputs = this.makeInputs();
    this.removeCookie = h("input", { type: "checkbox", name: "removeCookie" });
    this.button = h("button", { class: "button primary", type: "submit" },
      t(this.editing ? "dl.form.submitEdit" : "dl.form.submitAdd"));
    this.form = this.makeForm();
    setTimeout(() => this.inputs[this.editing ? "title" : "feedUrl"].focus(), 0);
  }

  makeInputs() {
    const initial = this.initial;
    const text = (name, attrs = {}) => h("input", { name, type: "text", autocomplete: "off", value: initial[name], ...attrs });
    return {
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
        placeholder: this.task?.hasCookie ? t("dl.cookie") : "" }),
    };
  }

  makeForm() {
    const { task, inputs } = this;
    return h("form", { class: "card dl-form", id: "dl-task-form", novalidate: true, onsubmit: (event) => this.submit(event) },
      h("h2", {}, this.editing ? t("dl.form.edit", { title: task.title }) : t("dl.form.add")),
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
        task?.hasCookie ? h("label", { class: "dl-check" }, this.removeCookie, t("dl.form.cookieRemove")) : null),
      h("p", { class: "form-message", role: "alert" }),
      h("div", { class: "dl-actions" }, this.button,
        h("button", { class: "button ghost", type: "button", onclick: this.onCancel }, t("common.cancel"))));
  }

  // What the inputs hold, trimmed and typed; null (with the error shown) when the interval is no number.
  values() {
    const inputs = this.inputs;
    if (inputs.interval.validity.badInput) {
      showError(this.form, notNumber("interval"));
      return null;
    }
    const raw = inputs.interval.value.trim();
    return {
      ...Object.fromEntries(TEXT_FIELDS.map((name) => [name, inputs[name].value.trim()])),
      ...Object.fromEntries(LIST_FIELDS.map((name) => [name, words(inputs[name].value)])),
      interval: raw === "" ? null : Number(raw), status: inputs.status.value, cookie: inputs.cookie.value,
    };
  }

  // The POST body: empty fields are left out, so the server fills in its defaults.
  created(v) {
    const body = { feedUrl: v.feedUrl, status: v.status };
    for (const name of ["title", "targetFolder", "category"]) if (v[name]) body[name] = v[name];
    for (const name of LIST_FIELDS) if (v[name].length) body[name] = v[name];
    if (v.interval !== null) body.interval = v.interval;
    if (v.cookie) body.cookie = v.cookie;
    return body;
  }

  // The PATCH body: only what differs from the task as it was loaded.
  changed(v) {
    const initial = this.initial;
    const body = {};
    for (const name of [...TEXT_FIELDS, "status"]) if (v[name] !== initial[name]) body[name] = v[name];
    for (const name of LIST_FIELDS) if (v[name].join(", ") !== initial[name]) body[name] = v[name];
    if (v.interval !== null && v.interval !== initial.interval) body.interval = v.interval;
    if (this.removeCookie.checked) body.cookie = "";
    else if (v.cookie) body.cookie = v.cookie;
    return body;
  }

  async submit(event) {
    event.preventDefault();
    clearErrors(this.form);
    const v = this.values();
    if (!v) return;
    const body = this.editing ? this.changed(v) : this.created(v);
    if (this.editing && !Object.keys(body).length) {
      toast(t("dl.form.unchanged"));
      this.onCancel();
      return;
    }
    this.button.disabled = true;
    try {
      const saved = await api(this.editing ? `api/download/tasks/${this.task.id}` : "api/download/tasks",
        { method: this.editing ? "PATCH" : "POST", body, admin: true, quiet: true });
      toast(t(this.editing ? "dl.form.saved" : "dl.form.added"));
      this.onSaved(saved);
    } catch (error) {
      showError(this.form, error);
    } finally {
      this.button.disabled = false;
    }
  }
}
