// A task's preview card: the live feed's entries (GET .../preview), picked by hand and queued for
// download (POST .../download). It knows nothing about the tasks table: `onQueued` tells its owner.

import { api } from "../api.js";
import { formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { cardHead, named } from "./downloads-forms.js";

addStrings({
  en: {
    "dl.preview.title": "Preview: {title}", "dl.preview.selectNew": "Select all new", "dl.preview.selectNone": "Select none",
    "dl.preview.download": "Download selected", "dl.preview.count": "{shown} of {total} entries · {selected} selected",
    "dl.preview.images": "images: {count}", "dl.preview.excluded": "excluded", "dl.preview.downloaded": "downloaded",
    "dl.preview.unseen": "not seen yet", "dl.preview.queued": "{count} entries queued for download.",
    "dl.preview.empty": "The feed has no entries.",
    "dl.es.new": "new", "dl.es.queued": "queued", "dl.es.partial": "partly done", "dl.es.done": "done",
    "dl.es.excluded": "excluded",
  },
  "zh-CN": {
    "dl.preview.title": "预览：{title}", "dl.preview.selectNew": "选择全部新条目", "dl.preview.selectNone": "全部不选",
    "dl.preview.download": "下载所选", "dl.preview.count": "显示 {shown} / 共 {total} 个条目 · 已选 {selected}",
    "dl.preview.images": "{count} 张图片", "dl.preview.excluded": "已排除", "dl.preview.downloaded": "已下载",
    "dl.preview.unseen": "尚未见过", "dl.preview.queued": "{count} 个条目已加入下载队列。",
    "dl.preview.empty": "该订阅没有条目。",
    "dl.es.new": "新", "dl.es.queued": "排队中", "dl.es.partial": "部分完成", "dl.es.done": "已完成",
    "dl.es.excluded": "已排除",
  },
});

// The card (it starts loading at once); `onQueued(task)` runs after the picked entries were queued.
export function previewCard(task, { onClose, onQueued }) {
  return new Preview(task, onClose, onQueued).element;
}

class Preview {
  constructor(task, onClose, onQueued) {
    Object.assign(this, { task, onQueued });
    this.total = 0;
    this.list = h("ul", { class: "dl-entries" });
    this.summary = h("p", { class: "dl-muted", role: "status" }, t("common.loading"));
    this.download = h("button", { class: "button primary", type: "button", id: "dl-download-selected", disabled: true,
      onclick: () => this.downloadSelected() }, t("dl.preview.download"));
    this.element = h("section", { class: "card dl-preview", id: "dl-preview", "data-task-id": task.id, "aria-busy": "true" },
      cardHead(t("dl.preview.title", { title: task.title }), onClose),
      this.summary,
      h("div", { class: "dl-toolbar" },
        h("button", { class: "button ghost", type: "button", id: "dl-select-new",
          onclick: () => this.pickWhere((box) => box.dataset.new === "true") }, t("dl.preview.selectNew")),
        h("button", { class: "button ghost", type: "button", onclick: () => this.pickWhere(() => false) },
          t("dl.preview.selectNone")),
        this.download),
      this.list);
    this.load();
  }

  boxes() {
    return [...this.list.querySelectorAll("input[data-entry-key]")];
  }

  recount() {
    const selected = this.boxes().filter((box) => box.checked).length;
    this.download.disabled = selected === 0;
    this.summary.textContent = t("dl.preview.count", { shown: this.boxes().length, total: this.total, selected });
  }

  pickWhere(test) {
    for (const box of this.boxes()) box.checked = !box.disabled && test(box);
    this.recount();
  }

  entryItem(entry) {
    const fresh = !entry.downloaded && !entry.excluded && entry.imageUrls.length > 0 && !["done", "queued"].includes(entry.status);
    const box = h("input", { type: "checkbox", "data-entry-key": entry.key, "data-new": String(fresh),
      disabled: entry.imageUrls.length === 0, onchange: () => this.recount(), "aria-label": entry.title || entry.key });
    const name = entry.title || entry.key;
    const link = /^https?:\/\//i.test(entry.link || "")
      ? h("a", { href: entry.link, target: "_blank", rel: "noopener noreferrer" }, name) : h("span", {}, name);
    return h("li", { class: "dl-entry" }, h("label", { class: "dl-entry-pick" }, box),
      h("div", { class: "dl-entry-body" }, link,
        h("small", { class: "dl-muted" }, [formatTime(entry.published),
          t("dl.preview.images", { count: entry.imageUrls.length })].filter(Boolean).join(" · ")),
        h("span", { class: "dl-flags" },
          entry.excluded ? h("span", { class: "badge dl-excluded" }, t("dl.preview.excluded")) : null,
          entry.downloaded ? h("span", { class: "badge dl-downloaded" }, t("dl.preview.downloaded")) : null,
          h("span", { class: "badge" }, entry.status ? named("dl.es", entry.status) : t("dl.preview.unseen")))));
  }

  async load() {
    try {
      const answer = await api(`api/download/tasks/${this.task.id}/preview`, { admin: true, quiet: true });
      this.total = answer.total;
      this.list.replaceChildren(...answer.entries.map((entry) => this.entryItem(entry)));
      if (!answer.entries.length) this.list.append(h("li", { class: "dl-empty" }, t("dl.preview.empty")));
      this.recount();
    } catch (error) {
      this.summary.textContent = "";
      this.summary.append(h("span", { class: "dl-error" }, error.message));
    } finally {
      this.element.removeAttribute("aria-busy");
    }
  }

  async downloadSelected() {
    const entries = this.boxes().filter((box) => box.checked).map((box) => box.dataset.entryKey);
    this.download.disabled = true;
    try {
      const answer = await api(`api/download/tasks/${this.task.id}/download`,
        { method: "POST", body: { entries }, admin: true });
      toast(t("dl.preview.queued", { count: answer.queued }));
      this.onQueued(this.task);
    } catch {
      /* the toast said why */
    } finally {
      this.recount();
    }
  }
}
