// The Trash card of the settings panel: whether the admin may move albums to the trash (allowAlbumDelete), how many
// days an album stays there (trashDays), and the albums in it, each with Restore and Delete forever (the only way,
// besides the trashDays purge, that photos are removed).
//
//   container.append(trashCard(app).element);

import { api } from "../api.js";
import { formatTime, h, showInvalid } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";

const MAX_DAYS = 3650;

addStrings({
  en: {
    "trash.title": "Trash", "trash.allow": "The administrator may move albums to the trash (album menu)",
    "trash.days": "Days an album stays in the trash before it is deleted for good", "trash.empty": "The trash is empty.",
    "trash.deleted": "Deleted {when} · deleted for good {purge}", "trash.restore": "Restore",
    "trash.purge": "Delete forever", "trash.confirmPurge": "Delete “{name}” and every photo in it for good?",
    "trash.restored": "“{name}” is back in the gallery.", "trash.purged": "“{name}” was deleted for good.",
  },
  "zh-CN": {
    "trash.title": "回收站", "trash.allow": "管理员可以将相册移到回收站（相册菜单）",
    "trash.days": "相册在回收站中保留的天数，之后将被永久删除", "trash.empty": "回收站是空的。",
    "trash.deleted": "删除于 {when} · 将于 {purge} 永久删除", "trash.restore": "恢复",
    "trash.purge": "永久删除", "trash.confirmPurge": "永久删除“{name}”及其中的所有照片？",
    "trash.restored": "“{name}”已恢复到图库。", "trash.purged": "“{name}”已永久删除。",
  },
});

export function trashCard(app) {
  const current = app.settings || {};
  const allow = h("input", { type: "checkbox", name: "allowAlbumDelete", id: "allow-album-delete",
    checked: !!current.allowAlbumDelete });
  const days = h("input", { type: "number", name: "trashDays", id: "trash-days", min: 1, max: MAX_DAYS, step: 1,
    value: current.trashDays ?? 30 });
  const message = h("p", { class: "form-message", id: "trash-message", role: "status" });
  const list = h("ul", { class: "trash-list", id: "trash-list" });
  const form = h("form", { onsubmit: save },
    h("label", { class: "check" }, allow, t("trash.allow")), h("label", {}, t("trash.days"), days),
    h("button", { class: "button primary", type: "submit", id: "trash-save" }, t("common.save")), message);
  const element = h("section", { class: "card", id: "trash" }, h("h3", {}, t("trash.title")), form, list);

  async function save(event) {
    event.preventDefault();
    const changes = {};
    if (allow.checked !== !!app.settings?.allowAlbumDelete) changes.allowAlbumDelete = allow.checked;
    if (Number(days.value) !== (app.settings?.trashDays ?? 30)) changes.trashDays = Number(days.value);
    if (!Object.keys(changes).length) return;
    try {
      await api("api/settings", { method: "PUT", body: changes, admin: true, quiet: true });
      await app.refreshStatus();
      message.className = "form-message ok";
      message.textContent = t("common.saved");
      refresh();
    } catch (error) {
      showInvalid(form, message, error.field, error.message);
    }
  }

  async function refresh() {
    const answer = await api("api/trash", { admin: true, quiet: true }).catch(() => null);
    if (!answer) return;
    list.replaceChildren(...(answer.items.length ? answer.items.map(row) : [h("li", { class: "muted" }, t("trash.empty"))]));
  }

  function row(item) {
    const act = async (call, done) => {
      try {
        await call();
        toast(t(done, { name: item.name }));
      } finally {
        refresh();
      }
    };
    const restore = () => act(() => api(`api/trash/${item.id}/restore`, { method: "POST", admin: true }), "trash.restored");
    const purge = () => {
      if (window.confirm(t("trash.confirmPurge", { name: item.name }))) {
        act(() => api(`api/trash/${item.id}`, { method: "DELETE", admin: true }), "trash.purged");
      }
    };
    return h("li", { class: "trash-item", dataset: { id: item.id } },
      h("strong", {}, item.path), " ",
      h("span", { class: "muted" }, t("trash.deleted", { when: formatTime(item.deletedAt), purge: formatTime(item.purgeAt) })),
      " ",
      h("button", { class: "button", type: "button", onclick: () => restore().catch(() => {}) }, t("trash.restore")),
      h("button", { class: "button ghost", type: "button", onclick: purge }, t("trash.purge")));
  }

  refresh();
  return { element };
}
