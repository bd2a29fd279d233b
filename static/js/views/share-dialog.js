// The admin's share dialog: a new link to an album or one photo (expiry, title, password and hint, download),
// then the link with Copy and its QR code; the same dialog edits a link from the Shared links list (PATCH).
// A modal <dialog>: the browser keeps the focus inside, Escape closes it, and the focus returns to the opener.
//
//   openShareDialog({ path: "Holidays", name: "Holidays", kind: "album" });
//   openShareDialog({ path, name, kind, share, onSaved: reload });   // edit `share` (its JSON from /api/shares)

import { api } from "../api.js";
import { formatTime, h, showInvalid } from "../dom.js";
import { describeError } from "../error-words.js";
import { addStrings, t } from "../i18n.js";
import { qrSvg } from "../qr.js";
import { toast } from "../toast.js";

const EXPIRY_DAYS = ["1", "7", "30", "365"];
const DEFAULT_DAYS = "30";
const NEVER = "never";
const KEEP = "keep";

addStrings({
  en: {
    "share.newTitle": "Share “{name}”", "share.editTitle": "Edit the link to “{name}”", "share.expiry": "Link expires in",
    "share.days1": "1 day", "share.days7": "7 days", "share.days30": "30 days", "share.days365": "1 year",
    "share.never": "Never", "share.keep": "Keep: {when}", "share.keepNever": "Keep: never expires",
    "share.linkTitle": "Title (optional)", "share.password": "Password (optional, at least 8 characters)",
    "share.passwordKeep": "Leave empty to keep the current password", "share.removePassword": "Remove the password",
    "share.hint": "Password hint (optional)", "share.allowDownload": "Allow downloading the originals (Download all)",
    "share.create": "Create link", "share.ready": "The link is ready. Anyone who has it can open it until it expires.",
    "share.url": "Link", "share.copy": "Copy", "share.copied": "Link copied.", "share.copyByHand": "Press Ctrl+C (⌘C) to copy the selected link.",
    "share.qr": "QR code of the link", "share.done": "Done", "share.tooShort": "At least 8 characters.",
  },
  "zh-CN": {
    "share.newTitle": "分享“{name}”", "share.editTitle": "编辑“{name}”的链接", "share.expiry": "链接有效期",
    "share.days1": "1 天", "share.days7": "7 天", "share.days30": "30 天", "share.days365": "1 年",
    "share.never": "永不过期", "share.keep": "保持：{when}", "share.keepNever": "保持：永不过期",
    "share.linkTitle": "标题（可选）", "share.password": "密码（可选，至少 8 个字符）",
    "share.passwordKeep": "留空则保持当前密码", "share.removePassword": "删除密码",
    "share.hint": "密码提示（可选）", "share.allowDownload": "允许下载原图（全部下载）",
    "share.create": "创建链接", "share.ready": "链接已生成。任何拥有链接的人在过期前都可以打开。",
    "share.url": "链接", "share.copy": "复制", "share.copied": "链接已复制。", "share.copyByHand": "请按 Ctrl+C（⌘C）复制已选中的链接。",
    "share.qr": "链接的二维码", "share.done": "完成", "share.tooShort": "至少 8 个字符。",
  },
});

/** Open the dialog for `path` (an album, "" the whole gallery, or one photo/video); resolves when it closes. */
export async function openShareDialog({ path, name, kind, share = null, onSaved = null }) {
  document.getElementById("share-dialog")?.close();
  const settings = await api("api/settings", { quiet: true }).catch(() => ({}));
  const dialog = h("dialog", { class: "share-dialog", id: "share-dialog", "aria-labelledby": "share-dialog-title",
    dataset: { kind: kind || "album" } });
  // Keys typed here are the dialog's: the lightbox and the app's shortcuts (on the document) never see them.
  dialog.addEventListener("keydown", (event) => event.stopPropagation());
  const title = h("h2", { id: "share-dialog-title" }, t(share ? "share.editTitle" : "share.newTitle", { name: name || "/" }));
  const form = shareForm({ path, share, allowNever: !!settings.allowNeverExpiringShares, dialog, onSaved });
  dialog.append(title, form);
  const lightboxRoot = document.getElementById("lightbox");
  (lightboxRoot && !lightboxRoot.hidden ? lightboxRoot : document.body).append(dialog);  // above an open lightbox
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => { dialog.remove(); resolve(); });
    dialog.showModal();
  });
}

function shareForm({ path, share, allowNever, dialog, onSaved }) {
  const expiry = h("select", { id: "share-expiry", name: "expiresInDays" }, expiryOptions(share, allowNever));
  const title = h("input", { id: "share-title", name: "title", type: "text", maxlength: 200, value: share?.title || "" });
  const password = h("input", { id: "share-password", name: "password", type: "password", autocomplete: "new-password",
    placeholder: share?.hasPassword ? t("share.passwordKeep") : null });
  const remove = share?.hasPassword ? h("input", { id: "share-remove-password", type: "checkbox" }) : null;
  const hint = h("input", { id: "share-hint", name: "passwordHint", type: "text", maxlength: 200,
    value: share?.passwordHint || "" });
  const download = h("input", { id: "share-allow-download", name: "allowDownload", type: "checkbox",
    checked: !!share?.allowDownload });
  const message = h("p", { class: "form-message", id: "share-message", role: "alert" });
  const submit = h("button", { class: "button primary", type: "submit", id: "share-submit" },
    t(share ? "common.save" : "share.create"));
  const form = h("form", { class: "share-form", method: "dialog", onsubmit: save },
    h("label", {}, t("share.expiry"), expiry), h("label", {}, t("share.linkTitle"), title),
    h("label", {}, t("share.password"), password), remove ? h("label", { class: "check" }, remove, t("share.removePassword")) : null,
    h("label", {}, t("share.hint"), hint), h("label", { class: "check" }, download, t("share.allowDownload")), message,
    h("div", { class: "dialog-actions" },
      h("button", { class: "button", type: "button", onclick: () => dialog.close() }, t("common.cancel")), submit));

  async function save(event) {
    event.preventDefault();
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    if (password.value && password.value.length < 8) return invalid("password", t("share.tooShort"));
    const body = { title: title.value.trim(), passwordHint: hint.value.trim(), allowDownload: download.checked };
    if (expiry.value !== KEEP) body.expiresInDays = expiry.value === NEVER ? null : Number(expiry.value);
    if (password.value) body.password = password.value;
    else if (remove?.checked) body.password = null;
    submit.disabled = true;
    try {
      const saved = share
        ? await api(`api/shares/${share.id}`, { method: "PATCH", body, admin: true, quiet: true })
        : await api("api/shares", { method: "POST", body: { path, ...body }, admin: true, quiet: true });
      onSaved?.(saved);
      if (share) { toast(t("common.saved")); dialog.close(); } else form.replaceWith(linkResult(saved, dialog));
    } catch (error) {
      submit.disabled = false;
      invalid(error.field, error.message || describeError({ status: 403, body: { code: "ADMIN_REQUIRED" } }));
    }
  }

  function invalid(field, text) {
    showInvalid(form, message, field, text);
  }
  return form;
}

function expiryOptions(share, allowNever) {
  const days = EXPIRY_DAYS.map((value) => h("option", { value, selected: !share && value === DEFAULT_DAYS },
    t(`share.days${value}`)));
  const keep = share ? h("option", { value: KEEP, selected: true },
    share.expiresAt ? t("share.keep", { when: formatTime(share.expiresAt) }) : t("share.keepNever")) : null;
  return [keep, ...days, allowNever ? h("option", { value: NEVER }, t("share.never")) : null];
}

// The made link: its URL with Copy, and its QR code.
function linkResult(share, dialog) {
  const url = h("input", { id: "share-url", type: "text", readonly: true, value: share.url, "aria-label": t("share.url") });
  const copy = h("button", { class: "button primary", type: "button", id: "share-copy",
    onclick: () => copyLink(share.url, url) }, t("share.copy"));
  const done = h("button", { class: "button", type: "button", id: "share-done", onclick: () => dialog.close() },
    t("share.done"));
  setTimeout(() => copy.focus(), 0);
  return h("div", { class: "share-result", id: "share-result" }, h("p", {}, t("share.ready")),
    h("div", { class: "share-url-row" }, url, copy),
    h("div", { class: "share-qr", id: "share-qr" }, qrSvg(share.url, { label: t("share.qr") })),
    h("div", { class: "dialog-actions" }, done));
}

/** Copy `text` to the clipboard; where the page may not (no secure context, refused), select it in `input`. */
export async function copyLink(text, input = null) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t("share.copied"));
  } catch {
    if (!input) {
      window.prompt(t("share.copyByHand"), text);  // the link, selected, in a box the reader can copy from
      return;
    }
    input.focus();
    input.select();
    toast(t("share.copyByHand"));
  }
}
