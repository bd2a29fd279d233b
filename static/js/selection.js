// Select mode over a listing's album and photo cards (issue 22): the album header's Select button or a long press
// on a card (touch) enters it; a click toggles a card, Shift-click selects a range, Escape or Done leaves. The bar
// says "N selected" and offers "Download N selected", a form post to api/zip that the browser streams straight to
// disk. In select mode a click never opens the lightbox or an album. Whether ZIPs may be downloaded: the admin
// setting allowZipDownloads (the admin always may), or in share mode the link's allowDownload, which the share
// page passes in with setShareDownloads(openAnswer).
//
//   listing.selection = new Selection(listing.element);   // header: selection.button
//   selection.adopt(cards);  selection.onKey(event);  selection.dispose();

import { adminToken, cookie } from "./api.js";
import { h } from "./dom.js";
import { describeError } from "./error-words.js";
import { addStrings, t } from "./i18n.js";
import { toast } from "./toast.js";

const CARDS = ".album-card, .media-card";
const LONG_PRESS_MS = 500;
const MOVE_TOLERANCE_PX = 10;  // a finger that moves farther scrolls, it does not press
const FRAME_NAME = "photonix-zip";  // the hidden frame form posts land in: a refusal is read there, not shown
let shareDownloads = null;  // share mode: {allowDownload, csrfToken} of the link's open answer

addStrings({
  en: {
    "select.button": "Select", "select.bar": "Selection", "select.count": "{count} selected",
    "select.download": "Download {count} selected", "select.clear": "Clear", "select.done": "Done",
  },
  "zh-CN": {
    "select.button": "选择", "select.bar": "已选项目", "select.count": "已选择 {count} 项",
    "select.download": "下载所选 {count} 项", "select.clear": "清除", "select.done": "完成",
  },
});

/** Share mode: the link's open answer ({allowDownload, csrfToken, …}), or null when the share session ended. */
export function setShareDownloads(answer) {
  shareDownloads = answer ? { allowDownload: answer.allowDownload === true, csrfToken: answer.csrfToken || "" } : null;
}

export function shareMode() {
  return document.body.dataset.mode === "share";
}

/** Whether this visitor may download ZIPs now (the server decides again on every request). */
export function zipAllowed(app) {
  if (shareMode()) return shareDownloads?.allowDownload === true;
  return app.settings?.allowZipDownloads !== false || adminToken() !== null;
}

/** Download these gallery paths (albums, photos, videos) as one ZIP, straight to disk. */
export function postZip(paths) {
  const form = h("form", { method: "post", action: "api/zip", target: zipFrame().name, hidden: true },
    h("input", { type: "hidden", name: "paths", value: JSON.stringify(paths) }),
    h("input", { type: "hidden", name: "csrf_token", value: zipCsrf() }));
  document.body.append(form);
  form.submit();
  form.remove();
}

// The CSRF value of the credential the form post carries: the share session's (from its open answer), else the
// viewer's cookie, else the admin's (api.js reads the same cookies for its X-CSRF-TOKEN header).
function zipCsrf() {
  if (shareMode()) return shareDownloads?.csrfToken || "";
  return cookie("csrf_access_token") || cookie("csrf_admin_token");
}

// A ZIP arrives as a download and leaves the frame blank; an error answer loads into it as JSON: say it.
function zipFrame() {
  let frame = document.querySelector(`iframe[name="${FRAME_NAME}"]`);
  if (frame) return frame;
  frame = h("iframe", { name: FRAME_NAME, title: FRAME_NAME, hidden: true, tabindex: "-1" });
  frame.addEventListener("load", () => {
    let body = null;
    try {
      body = JSON.parse(frame.contentDocument?.body?.textContent || "null");
    } catch {
      body = null;  // not an error body (the blank page)
    }
    if (body?.code) toast(describeError({ status: 0, body }), "error");
  });
  document.body.append(frame);
  return frame;
}

export class Selection {
  constructor(root) {
    this.root = root;
    this.active = false;
    this.chosen = new Set();  // gallery paths: a reload redraws the cards, the choice stays
    this.anchor = null;  // the path a Shift-click's range starts from
    this.press = null;  // a touch that may become a long press: {timer, x, y}
    this.swallow = false;  // the click that ends a long press must not toggle the card back
    this.button = h("button", { class: "button", type: "button", id: "select-toggle", "aria-pressed": "false",
      onclick: () => (this.active ? this.leave() : this.enter()) }, t("select.button"));
    this.count = h("span", { class: "select-count", role: "status" });
    this.download = h("button", { class: "button primary", type: "button", id: "select-download",
      onclick: () => postZip([...this.chosen]) });
    const clear = h("button", { class: "button", type: "button", id: "select-clear", onclick: () => this.clear() },
      t("select.clear"));
    const done = h("button", { class: "button ghost", type: "button", id: "select-done", onclick: () => this.leave() },
      t("select.done"));
    this.bar = h("div", { class: "select-bar", id: "select-bar", role: "region", "aria-label": t("select.bar"),
      hidden: true }, this.count, this.download, clear, done);
    root.append(this.bar);
    this.listen();
  }

  listen() {
    this.root.addEventListener("click", (event) => this.clicked(event), true);  // before a card's own click
    this.root.addEventListener("pointerdown", (event) => this.pressStart(event));
    for (const type of ["pointerup", "pointercancel"]) this.root.addEventListener(type, () => this.pressEnd());
    this.root.addEventListener("pointermove", (event) => this.pressMove(event));
    this.root.addEventListener("keydown", (event) => {  // a card is a toggle button now: Space presses it too
      const card = this.active && event.key === " " ? cardOf(event.target, this.root) : null;
      if (!card) return;
      event.preventDefault();
      card.click();
    });
    this.root.addEventListener("contextmenu", (event) => {
      if ((this.active || this.press || this.swallow) && cardOf(event.target, this.root)) event.preventDefault();
    });
  }

  enter() {
    this.active = true;
    this.root.classList.add("selecting");
    this.button.setAttribute("aria-pressed", "true");
    this.adopt(this.cards());
    this.update();
  }

  leave() {
    if (this.bar.contains(document.activeElement)) this.button.focus();  // the bar is going away
    this.active = false;
    this.chosen.clear();
    this.anchor = null;
    this.root.classList.remove("selecting");
    this.button.setAttribute("aria-pressed", "false");
    for (const card of this.cards()) {
      card.classList.remove("selected");
      card.removeAttribute("role");
      card.removeAttribute("aria-pressed");
    }
    this.update();
  }

  clear() {
    this.chosen.clear();
    this.anchor = null;
    this.adopt(this.cards());
    this.update();
  }

  /** Cards the listing drew: in select mode they become toggle buttons showing whether they are chosen. */
  adopt(cards) {
    if (!this.active) return;
    for (const card of cards) {
      const on = this.chosen.has(card.dataset.path);
      card.setAttribute("role", "button");
      card.setAttribute("aria-pressed", String(on));
      card.classList.toggle("selected", on);
    }
  }

  onKey(event) {
    if (!this.active || event.key !== "Escape") return false;
    this.leave();
    return true;
  }

  clicked(event) {
    const card = this.active ? cardOf(event.target, this.root) : null;
    if (!card) return;
    event.preventDefault();
    event.stopPropagation();
    if (this.swallow) {
      this.swallow = false;
      return;
    }
    if (event.shiftKey && this.anchor !== null) this.range(card);
    else this.set([card], !this.chosen.has(card.dataset.path));
    this.anchor = card.dataset.path;
  }

  range(card) {
    const cards = this.cards();
    const from = cards.findIndex((each) => each.dataset.path === this.anchor);
    const to = cards.indexOf(card);
    if (from < 0) return this.set([card], true);
    this.set(cards.slice(Math.min(from, to), Math.max(from, to) + 1), true);
  }

  set(cards, on) {
    for (const card of cards) {
      if (on) this.chosen.add(card.dataset.path);
      else this.chosen.delete(card.dataset.path);
    }
    this.adopt(cards);
    this.update();
  }

  // A touch held still on a card for LONG_PRESS_MS enters select mode with that card chosen (toggles it in it).
  pressStart(event) {
    this.swallow = false;  // a new gesture: its click counts
    this.pressEnd();
    const card = event.pointerType === "mouse" ? null : cardOf(event.target, this.root);
    if (!card) return;
    const timer = setTimeout(() => this.longPress(card), LONG_PRESS_MS);
    this.press = { timer, x: event.clientX, y: event.clientY };
  }

  pressMove(event) {
    if (this.press && Math.hypot(event.clientX - this.press.x, event.clientY - this.press.y) > MOVE_TOLERANCE_PX) {
      this.pressEnd();
    }
  }

  pressEnd() {
    if (this.press) clearTimeout(this.press.timer);
    this.press = null;
  }

  longPress(card) {
    this.press = null;
    this.swallow = true;
    if (!this.active) this.enter();
    this.set([card], !this.chosen.has(card.dataset.path));
    this.anchor = card.dataset.path;
  }

  update() {
    const count = this.chosen.size;
    this.bar.hidden = !this.active;
    this.count.textContent = t("select.count", { count });
    this.download.textContent = t("select.download", { count });
    this.download.disabled = count === 0;
  }

  cards() {
    return [...this.root.querySelectorAll(CARDS)];
  }

  dispose() {
    this.pressEnd();
  }
}

function cardOf(target, root) {
  const card = target instanceof Element ? target.closest(CARDS) : null;
  return card && root.contains(card) ? card : null;
}
