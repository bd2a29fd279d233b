// The album's "⋯" menu (issue 22): Download album (a plain link to api/zip/<path>: the browser streams the ZIP to
// disk), Subscribe (Atom) (the album's feed address, to open or copy) and, for the admin, Share… (share-dialog.js,
// loaded when first used), Rename… and Move to trash (album-actions.js). In share mode it offers Download album
// only, when the link allows downloads (selection.js: setShareDownloads). Keyboard: Enter/Space/↓ open it,
// ↑/↓/Home/End move, Escape closes it.
//
//   const menu = albumMenu(app, { path, name });   // menu.element goes in the album's toolbar

import { adminToken } from "../api.js";
import { encodePath, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { shareMode, zipAllowed } from "../selection.js";
import { toast } from "../toast.js";
import { albumActionItems } from "./album-actions.js";

addStrings({
  en: {
    "menu.album": "Album actions", "menu.download": "Download album", "menu.subscribe": "Subscribe (Atom)",
    "menu.share": "Share…", "menu.feedTitle": "Subscribe to this album", "menu.feedUrl": "Feed address (Atom)",
    "menu.openFeed": "Open", "menu.copy": "Copy", "menu.copied": "Feed address copied.",
  },
  "zh-CN": {
    "menu.album": "相册操作", "menu.download": "下载相册", "menu.subscribe": "订阅（Atom）",
    "menu.share": "分享…", "menu.feedTitle": "订阅这个相册", "menu.feedUrl": "订阅地址（Atom）",
    "menu.openFeed": "打开", "menu.copy": "复制", "menu.copied": "订阅地址已复制。",
  },
});

export function albumMenu(app, { path, name }) {
  const menu = h("div", { class: "menu", id: "album-menu", role: "menu", "aria-label": t("menu.album"), hidden: true });
  const button = h("button", { class: "button", type: "button", id: "album-menu-button", "aria-haspopup": "menu",
    "aria-expanded": "false", "aria-controls": "album-menu", title: t("menu.album"), "aria-label": t("menu.album") },
  h("span", { "aria-hidden": "true" }, "⋯"));
  const element = h("div", { class: "album-menu" }, button, menu);
  let panel = null;
  const onOutside = (event) => {
    if (element.isConnected && element.contains(event.target)) return;
    close();
    closePanel();
  };

  function open() {
    closePanel();
    menu.replaceChildren(...menuItems(app, { path, name }, { close, showFeed }));
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    document.addEventListener("pointerdown", onOutside);
    items()[0]?.focus();
  }
  function close({ focus = false } = {}) {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", onOutside);
    if (focus) button.focus();
  }
  function showFeed() {
    close();
    panel = feedPanel(feedUrl(path), () => closePanel({ focus: true }));
    element.append(panel);
    panel.querySelector("input").focus();
    document.addEventListener("pointerdown", onOutside);
  }
  function closePanel({ focus = false } = {}) {
    panel?.remove();
    panel = null;
    if (focus) button.focus();
  }
  const items = () => [...menu.querySelectorAll("[role=menuitem]")];

  button.addEventListener("click", () => (menu.hidden ? open() : close()));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && menu.hidden) {
      event.preventDefault();
      open();
    }
  });
  menu.addEventListener("keydown", (event) => moveFocus(event, items(), () => close({ focus: true })));
  element.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !panel) return;
    event.stopPropagation();  // the page's own Escape (leaving select mode) waits for the next one
    closePanel({ focus: true });
  });
  element.hidden = menuItems(app, { path, name }, {}).length === 0;
  return { element, close };
}

function menuItems(app, { path, name }, { close, showFeed }) {
  const item = (attrs, text) => h(attrs.href ? "a" : "button", { role: "menuitem", tabindex: "-1",
    ...(attrs.href ? {} : { type: "button" }), ...attrs }, text);
  const download = zipAllowed(app) ? item({ id: "menu-download", href: zipUrl(path), download: "",
    onclick: () => close() }, t("menu.download")) : null;
  if (shareMode()) return download ? [download] : [];
  const share = adminToken() ? item({ id: "menu-share", onclick: async () => {
    close();
    const { openShareDialog } = await import("./share-dialog.js");
    openShareDialog({ path, name, kind: "album" });
  } }, t("menu.share")) : null;
  return [download, item({ id: "menu-subscribe", onclick: () => showFeed() }, t("menu.subscribe")), share,
    ...albumActionItems(app, { path, name }, item, close)].filter(Boolean);
}

// ↑/↓ (wrapping), Home/End among the items; Escape closes and gives the focus back; Tab closes and moves on.
function moveFocus(event, items, close) {
  const at = items.indexOf(document.activeElement);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[event.key];
  if (event.key === "Escape") {
    event.stopPropagation();
    event.preventDefault();
    close();
  } else if (event.key === "Tab") {
    close();
  } else if (to !== undefined && items.length) {
    event.preventDefault();
    event.stopPropagation();
    items[(to + items.length) % items.length].focus();
  }
}

function feedPanel(url, close) {
  const input = h("input", { id: "feed-url", type: "url", readonly: true, value: url,
    onfocus: () => input.select() });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      input.select();  // no clipboard API (plain http on a LAN address): the page's copy command
      if (!document.execCommand("copy")) return;
    }
    toast(t("menu.copied"));
  };
  return h("div", { class: "feed-panel card", id: "feed-panel", role: "dialog", "aria-label": t("menu.feedTitle") },
    h("label", {}, t("menu.feedUrl"), input),
    h("div", { class: "feed-actions" },
      h("a", { class: "button", id: "feed-open", href: url, target: "_blank", rel: "noopener" }, t("menu.openFeed")),
      h("button", { class: "button", type: "button", id: "feed-copy", onclick: copy }, t("menu.copy")),
      h("button", { class: "button ghost", type: "button", id: "feed-close", onclick: close }, t("common.close"))));
}

function zipUrl(path) {
  return path ? `api/zip/${encodePath(path)}` : "api/zip";
}

// Absolute: a feed reader is given the whole address.
function feedUrl(path) {
  return new URL(path ? `api/feed/${encodePath(path)}` : "api/feed", document.baseURI).href;
}
