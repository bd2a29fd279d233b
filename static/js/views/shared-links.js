// The Shared links section of the owner's settings: every link (newest first, revoked ones too) with its state,
// views and last visit, and Copy, Edit (the share dialog, PATCH) and Revoke (DELETE, after a confirmation).
//
//   const links = sharedLinks();   // links.element into the settings panel; links.refresh() after a change

import { api } from "../api.js";
import { formatTime, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { copyLink, openShareDialog } from "./share-dialog.js";

addStrings({
  en: {
    "links.title": "Shared links", "links.none": "No shared links yet. Use Share… on an album or in a photo's view.",
    "links.link": "Link", "links.expires": "Expires", "links.views": "Views", "links.lastVisit": "Last visit",
    "links.password": "Password", "links.download": "Download", "links.actions": "Actions",
    "links.expired": "Expired", "links.revoked": "Revoked", "links.never": "Never", "links.revoke": "Revoke",
    "links.confirmRevoke": "Revoke the link to “{name}”? Whoever has it can no longer open it.",
    "links.revokedDone": "The link was revoked.", "links.kind.album": "Album", "links.kind.photo": "Photo",
    "links.kind.video": "Video", "links.root": "The whole gallery",
  },
  "zh-CN": {
    "links.title": "共享链接", "links.none": "还没有共享链接。在相册或照片视图中使用“分享…”。",
    "links.link": "链接", "links.expires": "过期时间", "links.views": "访问次数", "links.lastVisit": "上次访问",
    "links.password": "密码", "links.download": "下载", "links.actions": "操作",
    "links.expired": "已过期", "links.revoked": "已撤销", "links.never": "永不过期", "links.revoke": "撤销",
    "links.confirmRevoke": "撤销“{name}”的链接？拥有链接的人将无法再打开它。",
    "links.revokedDone": "链接已撤销。", "links.kind.album": "相册", "links.kind.photo": "照片",
    "links.kind.video": "视频", "links.root": "整个图库",
  },
});

const COLUMNS = ["link", "expires", "views", "lastVisit", "password", "download", "actions"];

export function sharedLinks() {
  const body = h("tbody");
  const empty = h("p", { class: "muted", id: "shared-links-empty", hidden: true }, t("links.none"));
  const table = h("table", { class: "shared-links" },
    h("thead", {}, h("tr", {}, COLUMNS.map((key) => h("th", { scope: "col" }, t(`links.${key}`))))), body);
  const element = h("section", { class: "card", id: "shared-links", "aria-labelledby": "shared-links-title" },
    h("h3", { id: "shared-links-title" }, t("links.title")), empty, h("div", { class: "table-scroll" }, table));

  async function refresh() {
    const answer = await api("api/shares", { admin: true, quiet: true }).catch(() => null);
    if (!answer) return;
    body.replaceChildren(...answer.items.map((share) => row(share, refresh)));
    empty.hidden = answer.items.length > 0;
    table.hidden = !empty.hidden;
  }
  refresh();
  return { element, refresh };
}

function row(share, refresh) {
  const name = share.title || share.path || t("links.root");
  const yesNo = (value) => t(value ? "common.yes" : "common.no");
  const cells = {
    link: [h("span", { class: "link-name" }, name),
      h("span", { class: "muted link-meta" }, `${t(`links.kind.${share.kind}`)} · ${share.path || "/"}`)],
    expires: h("span", { class: `link-state ${state(share)}` }, expiryText(share)),
    views: String(share.views),
    lastVisit: formatTime(share.lastViewedAt) || "—",
    password: yesNo(share.hasPassword),
    download: yesNo(share.allowDownload),
    actions: h("div", { class: "link-actions" },
      h("button", { class: "button link-copy", type: "button", disabled: !share.url,
        onclick: () => copyLink(share.url) }, t("share.copy")),
      h("button", { class: "button link-edit", type: "button", disabled: share.revoked,
        onclick: () => openShareDialog({ path: share.path, name, kind: share.kind, share, onSaved: refresh }) },
      t("common.edit")),
      h("button", { class: "button danger link-revoke", type: "button", disabled: share.revoked,
        onclick: () => revoke(share, name, refresh) }, t("links.revoke"))),
  };
  return h("tr", { dataset: { id: share.id, state: state(share) } },
    COLUMNS.map((key) => h("td", { dataset: { col: key, label: t(`links.${key}`) } }, cells[key])));
}

function state(share) {
  if (share.revoked) return "revoked";
  return share.expired ? "expired" : "active";
}

function expiryText(share) {
  if (share.revoked) return t("links.revoked");
  if (share.expired) return t("links.expired");
  return share.expiresAt ? formatTime(share.expiresAt) : t("links.never");
}

async function revoke(share, name, refresh) {
  if (!window.confirm(t("links.confirmRevoke", { name }))) return;
  try {
    await api(`api/shares/${share.id}`, { method: "DELETE", admin: true });
    toast(t("links.revokedDone"));
  } catch {
    // api() has shown the error
  } finally {
    refresh();
  }
}
