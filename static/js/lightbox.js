// The lightbox: a modal dialog over the page with one photo (its thumbnail at once, then its preview; the original
// only when zoomed past the preview or downloaded) or one video with native controls. ←/→, swipe and ‹ › on
// both, Esc, zoom, a slideshow, the details panel; the neighbours' previews (never originals) are fetched ahead.
// Focus moves into the dialog, Tab stays inside, and closing gives focus back to the tile that opened it.
//
//   lightbox.open(items, index, { loadMore: async () => items })   // loadMore: fetch the next page
//
// The details panel (I key, or its button) stays open from one photo to the next and re-reads each.

import { Describe } from "./ai-describe.js";
import { adminToken } from "./api.js";
import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import { icon } from "./icons.js";
import { Gestures } from "./lightbox-gestures.js";
import { PhotoView } from "./lightbox-photo.js";
import { VideoView } from "./lightbox-video.js";
import { Previews } from "./lightbox-previews.js";
import { Slideshow } from "./slideshow.js";
import { InfoPanel } from "./views/info-panel.js";

const PRELOAD_OFFSETS = [1, -1, 2];
const FOCUSABLE = "button, a[href], select, video[controls], [tabindex]:not([tabindex='-1'])";

addStrings({
  en: { "lightbox.prev": "Previous (←)", "lightbox.next": "Next (→)", "lightbox.close": "Close (Esc)",
    "lightbox.download": "Download original", "lightbox.fullscreen": "Fullscreen (F)", "lightbox.position": "{n} / {total}",
    "lightbox.info": "Details (I)", "lightbox.loading": "Loading a sharper image", "lightbox.share": "Share…" },
  "zh-CN": { "lightbox.prev": "上一张 (←)", "lightbox.next": "下一张 (→)", "lightbox.close": "关闭 (Esc)",
    "lightbox.download": "下载原图", "lightbox.fullscreen": "全屏 (F)", "lightbox.position": "{n} / {total}",
    "lightbox.info": "详细信息 (I)", "lightbox.loading": "正在加载清晰图像", "lightbox.share": "分享…" },
});

class Lightbox {
  constructor() {
    this.items = [];
    this.index = 0;
    this.infoOpen = false;
    this.photo = null;
    this.media = null;
    this.inert = [];
  }

  get root() {
    return document.getElementById("lightbox");
  }

  isOpen() {
    return !!this.root && !this.root.hidden;
  }

  open(items, index, { loadMore = null } = {}) {
    if (this.isOpen()) this.close({ refocus: false });
    Object.assign(this, { items, index, loadMore });
    const active = document.activeElement;
    this.opener = active?.closest?.("[data-path]") ? active : null;
    this.openedPath = items[index]?.path;
    this.previews = new Previews({ onChange: (path) => { if (path === this.items[this.index]?.path) this.state(); } });
    this.build();
    this.root.hidden = false;
    this.modal(true);
    this.show();
    this.root.focus();
  }

  close({ refocus = true } = {}) {
    if (!this.isOpen()) return;
    this.slideshow.stop();
    this.root.querySelector("video")?.pause();
    this.info?.hide();
    this.describe?.dispose();
    this.resizer?.disconnect();
    this.photo?.dispose();
    this.video?.dispose();
    this.previews.dispose();
    this.root.hidden = true;
    this.root.replaceChildren();
    this.photo = this.video = this.media = null;
    this.modal(false);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (refocus) this.returnFocus();
  }

  // The page behind is inert (no focus, no clicks, hidden from screen readers) while the dialog is open.
  modal(on) {
    document.documentElement.classList.toggle("lightbox-open", on);
    document.body.style.overflow = on ? "hidden" : "";
    for (const el of this.inert) el.inert = false;
    this.inert = on ? [...document.body.children].filter((el) => el !== this.root && el.id !== "toasts" && !el.inert) : [];
    for (const el of this.inert) el.inert = true;
  }

  returnFocus() {
    const tile = this.opener?.isConnected ? this.opener
      : document.querySelector(`#view .media-card[data-path="${CSS.escape(this.openedPath || "")}"]`);
    tile?.focus();
  }

  build() {
    const root = this.root;
    this.wire(root);
    Object.assign(root, { tabIndex: -1 });
    root.setAttribute("role", "dialog");
    root.setAttribute("aria-modal", "true");
    this.caption = h("span", { class: "caption", id: "lightbox-caption" });
    this.position = h("span", { class: "count", id: "lightbox-position" });
    this.download = h("a", { class: "button icon-button", id: "lightbox-download", download: "",
      title: t("lightbox.download"), "aria-label": t("lightbox.download") }, icon("download"));
    this.spinner = h("div", { class: "lightbox-spinner", role: "progressbar", "aria-label": t("lightbox.loading"), hidden: true });
    this.stage = h("div", { class: "lightbox-stage" });
    this.info = new InfoPanel();
    this.infoButton = button("info-toggle", t("lightbox.info"), () => this.toggleInfo(), "info");
    this.infoButton.id = "lightbox-info";
    this.infoButton.setAttribute("aria-controls", this.info.element.id);
    // "Describe" (AI captions): the panel, when open, re-reads the details to show the new caption.
    this.describe = new Describe({
      onDone: (item) => { if (this.infoOpen && item === this.items[this.index]) this.info.show(item); },
    });
    this.slideshow = new Slideshow({ next: () => this.step(1), media: () => this.media, onState: () => this.state() });
    const close = button("", t("lightbox.close"), () => this.close(), "close");
    close.id = "lightbox-close";
    // The owner shares this photo (views/share-dialog.js); never on a share link's own page.
    const share = adminToken() && document.body.dataset.mode !== "share" ? h("button", { class: "button", type: "button",
      id: "lightbox-share", onclick: () => this.share() }, t("lightbox.share")) : null;
    root.replaceChildren(
      h("div", { class: "lightbox-bar" }, this.position, this.caption, this.slideshow.element, share, this.describe.button,
        this.infoButton, this.download, button("", t("lightbox.fullscreen"), () => this.fullscreen(), "fullscreen"), close),
      h("div", { class: "lightbox-body" }, this.stage, this.info.element),
    );
    this.stage.append(button("nav prev", t("lightbox.prev"), () => this.step(-1), "prev"),
      button("nav next", t("lightbox.next"), () => this.step(1), "next"), this.spinner, this.describe.output);
    this.gestures = new Gestures(this.stage, this);
    this.resizer = new ResizeObserver(() => this.photo?.relayout());
    this.resizer.observe(this.stage);
  }

  // Listeners on the lasting #lightbox element and the document, added once.
  wire(root) {
    if (this.wired) return;
    this.wired = true;
    root.addEventListener("keydown", (event) => this.trapTab(event));
    root.addEventListener("pointerdown", (event) => {
      if (!event.target.closest(".slideshow-controls")) this.slideshow?.pause();  // any touch or click holds the show
    }, true);
    document.addEventListener("focusin", (event) => {
      if (this.isOpen() && !this.root.contains(event.target)) this.root.focus();
    });
  }

  show() {
    const item = this.items[this.index];
    if (!item) return;
    this.photo?.dispose();
    this.video?.dispose();
    this.media?.remove();
    this.photo = item.type === "video" ? null : new PhotoView(item, { previews: this.previews, onChange: () => this.state() });
    this.video = item.type === "video" ? new VideoView(item) : null;  // original or HLS (lightbox-video.js)
    this.media = this.photo?.element || this.video.element;
    this.stage.prepend(this.media);
    this.photo?.start(this.stage);
    this.video?.start();
    this.caption.textContent = item.name;
    this.position.textContent = t("lightbox.position", { n: this.index + 1, total: this.items.length });
    this.download.href = item.originalUrl;
    this.download.setAttribute("download", item.name);
    this.root.dataset.path = item.path;
    this.root.setAttribute("aria-label", item.name);
    this.state();
    this.showInfo();
    this.describe.show(item);
    this.preload();
    this.slideshow.shown();
  }

  // What is on screen, for the CSS and the tests: zoom, quality (thumb/preview/original/video), loading, the
  // preview's state (loading/busy/ready/broken/failed, "none" without one), the slideshow's.
  state() {
    const photo = this.photo;
    const data = this.root.dataset;
    data.preview = this.previews.state(this.items[this.index]?.path) || "none";
    data.zoom = String(photo ? Math.round(photo.zoom.scale * 100) / 100 : 1);
    data.quality = photo ? photo.quality : "video";
    data.loading = String(!!photo?.loading);
    data.slideshow = this.slideshow.state;
    this.spinner.hidden = !photo?.loading;
  }

  toggleInfo() {
    this.infoOpen = !this.infoOpen;
    this.showInfo();
  }

  showInfo() {
    this.infoButton.setAttribute("aria-expanded", String(this.infoOpen));
    if (this.infoOpen) this.info.show(this.items[this.index]);
    else this.info.hide();
  }

  // The neighbours' previews, so the next step shows a sharp photo at once; everything further away is dropped.
  preload() {
    const keep = [this.items[this.index].path];
    for (const offset of PRELOAD_OFFSETS) {
      const item = this.items[this.index + offset];
      if (!item || item.type === "video" || !item.previewUrl) continue;
      this.previews.get(item);
      keep.push(item.path);
    }
    this.previews.keep(keep);
  }

  /** Move by `delta` items (loading the next page at the end); true when another item is now shown. */
  async step(delta) {
    let target = this.index + delta;
    if (target >= this.items.length && this.loadMore) {
      this.items = await this.loadMore();
    }
    if (!this.isOpen()) return false;
    target = Math.max(0, Math.min(this.items.length - 1, target));
    if (target === this.index) return false;
    this.index = target;
    this.show();
    return true;
  }

  async share() {
    const item = this.items[this.index];
    const { openShareDialog } = await import("./views/share-dialog.js");
    this.slideshow.pause();
    openShareDialog({ path: item.path, name: item.name, kind: item.type });
  }

  fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.root.requestFullscreen?.().catch(() => {});
  }

  onKey(event) {
    const key = event.key;
    if (key !== " ") this.slideshow.pause();
    if (key === " ") {
      if (event.target.closest?.("button, a, select, video")) return false;  // Space presses the focused control
      this.slideshow.toggle();
    } else if (key === "ArrowRight") this.step(1);
    else if (key === "ArrowLeft") this.step(-1);
    else if (key === "Escape") this.close();
    else if (key === "f" || key === "F") this.fullscreen();
    else if (key === "i" || key === "I") this.toggleInfo();
    else if (/^[1-9]$/.test(key) && this.items.length >= Number(key)) { this.index = Number(key) - 1; this.show(); }
    else if (key === "h" || key === "H") { this.close(); return false; }  // and let the app go home
    else return false;
    return true;
  }

  // Tab and Shift+Tab go round the dialog's controls and never leave it.
  trapTab(event) {
    if (event.key !== "Tab") return;
    const controls = [...this.root.querySelectorAll(FOCUSABLE)].filter((el) => !el.disabled && el.getClientRects().length);
    if (!controls.length) return;
    const [first, last] = [controls[0], controls[controls.length - 1]];
    const active = document.activeElement;
    if (event.shiftKey && (active === first || active === this.root)) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && active === last) {
      first.focus();
      event.preventDefault();
    }
  }
}

function button(cls, label, action, iconName) {
  return h("button", { class: `button icon-button ${cls}`.trim(), type: "button", title: label, "aria-label": label,
    onclick: action }, icon(iconName));
}

export const lightbox = new Lightbox();
