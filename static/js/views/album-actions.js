// The admin's album actions in the album's "⋯" menu (album-menu.js): Rename… (a small modal dialog; the server
// applies the gallery's name rules and says what is wrong) and Move to trash (when the owner allows deleting
// albums), which opens the parent album and offers Undo in a toast (restores it from the trash).
//
//   const items = albumActionItems(app, { path, name }, item, close);   // [] unless the admin, and never the root

import { adminToken, api } from "../api.js";
import { encodePath, h, showInvalid } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";

const UNDO_MS = 10000;

addStrings({
  en: {
    "album.rename": "Rename…", "album.trash": "Move to trash", "album.renameTitle": "Rename “{name}”",
    "album.newName": "New name", "album.renameSubmit": "Rename", "album.renamed": "Renamed to “{name}”.",
    "album.trashed": "“{name}” was moved to the trash.", "album.undo": "Undo", "album.restored": "“{name}” is back.",
  },
  "zh-CN": {
    "album.rename": "重命名…", "album.trash": "移到回收站", "album.renameTitle": "重命名“{name}”",
    "album.newName": "新名称", "album.renameSubmit": "重命名", "album.renamed": "已重命名为“{name}”。",
    "album.trashed": "“{name}”已移到回收站。", "album.undo": "撤销", "album.restored": "“{name}”已恢复。",
  },
});

export function albumActionItems(app, { path, name }, item, close) {
  if (!path || !adminToken()) return [];
  const rename = item({ id: "menu-rename", onclick: () => { close(); openRenameDialog(app, { path, name }); } },
    t("album.rename"));
  const trash = app.settings?.allowAlbumDelete
    ? item({ id: "menu-trash", onclick: () => { close(); moveToTrash(app, { path, name }); } }, t("album.trash"))
    : null;
  return [rename, trash].filter(Boolean);
}

async function moveToTrash(app, { path, name }) {
  let item;
  try {
    item = await api(`api/albums/${encodePath(path)}`, { method: "DELETE", admin: true });
  } catch {
    return;  // api() said why in a toast
  }
  app.navigate(app.albumHash(path.split("/").slice(0, -1).join("/")));
  undoToast(t("album.trashed", { name }), async () => {
    await api(`api/trash/${encodeURIComponent(item.id)}/restore`, { method: "POST", admin: true });
    toast(t("album.restored", { name }));
    app.navigate(app.albumHash(item.path));
  });
}

// A toast with an Undo button; it stays for UNDO_MS, and a click on Undo (once) runs `undo`.
function undoToast(message, undo) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const button = h("button", { class: "button", type: "button", id: "undo-trash" }, t("album.undo"));
  const element = h("div", { class: "toast info undo", role: "status" }, h("span", {}, message, " "), button);
  button.addEventListener("click", () => {
    element.remove();
    undo().catch(() => {});
  });
  box.append(element);
  setTimeout(() => element.remove(), UNDO_MS);
}

function openRenameDialog(app, { path, name }) {
  document.getElementById("rename-dialog")?.close();
  const dialog = h("dialog", { class: "share-dialog", id: "rename-dialog", "aria-labelledby": "rename-dialog-title" });
  dialog.addEventListener("keydown", (event) => event.stopPropagation());  // not the page's shortcuts
  const input = h("input", { id: "rename-name", name: "name", type: "text", value: name, required: true,
    autocomplete: "off" });
  const message = h("p", { class: "form-message", id: "rename-message", role: "alert" });
  const form = h("form", { class: "share-form", onsubmit: save },
    h("label", {}, t("album.newName"), input), message,
    h("div", { class: "dialog-actions" },
      h("button", { class: "button ghost", type: "button", id: "rename-cancel", onclick: () => dialog.close() },
        t("common.cancel")),
      h("button", { class: "button primary", type: "submit", id: "rename-submit" }, t("album.renameSubmit"))));
  dialog.append(h("h2", { id: "rename-dialog-title" }, t("album.renameTitle", { name })), form);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  input.select();

  async function save(event) {
    event.preventDefault();
    input.removeAttribute("aria-invalid");
    if (input.value === name) return dialog.close();
    try {
      const done = await api(`api/albums/${encodePath(path)}/rename`, { method: "POST", body: { name: input.value },
        admin: true, quiet: true });
      dialog.close();
      toast(t("album.renamed", { name: input.value }));
      app.navigate(app.albumHash(done.path));
    } catch (error) {
      showInvalid(form, message, error.field || "name", error.message);
    }
  }
}
