// The lightbox: one photo (or a video with native controls) at a time over the page, ←/→ and swipe,
// Esc, pinch/double-tap/double-click zoom with drag, neighbours preloaded, the original downloadable.
//
//   lightbox.open(items, index, { loadMore: async () => items })   // loadMore: fetch the next page
//
// The details panel (I key, or its button) stays open from one photo to the next and re-reads each.

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import { InfoPanel } from "./views/info-panel.js";

const SWIPE_PX = 50;
const MAX_ZOOM = 5;
const DOUBLE_TAP_MS = 300;

addStrings({
  en: { "lightbox.prev": "Previous (←)", "lightbox.next": "Next (→)", "lightbox.close": "Close (Esc)",
    "lightbox.download": "Download original", "lightbox.fullscreen": "Fullscreen (F)", "lightbox.position": "{n} / {total}",
    "lightbox.info": "Details (I)" },
  "zh-CN": { "lightbox.prev": "上一张 (←)", "lightbox.next": "下一张 (→)", "lightbox.close": "关闭 (Esc)",
    "lightbox.download": "下载原图", "lightbox.fullscreen": "全屏 (F)", "lightbox.position": "{n} / {total}",
    "lightbox.info": "详细信息 (I)" },
});

class Lightbox {
  constructor() {
    this.items = [];
    this.index = 0;
    this.zoom = { scale: 1, x: 0, y: 0 };
    this.pointers = new Map();
    this.gesture = null;
    this.lastTap = 0;
    this.infoOpen = false;
  }

  get root() {
    return document.getElementById("lightbox");
  }

  isOpen() {
    return !!this.root && !this.root.hidden;
  }

  open(items, index, { loadMore = null } = {}) {
    Object.assign(this, { items, index, loadMore });
    this.build();
    this.root.hidden = false;
    document.body.style.overflow = "hidden";
    this.show();
  }

  close() {
    if (!this.isOpen()) return;
    this.root.querySelector("video")?.pause();
    this.info?.hide();
    this.root.hidden = true;
    this.root.replaceChildren();
    document.body.style.overflow = "";
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }

  build() {
    this.caption = h("span", { class: "caption", id: "lightbox-caption" });
    this.position = h("span", { class: "count", id: "lightbox-position" });
    this.download = h("a", { class: "button", id: "lightbox-download", download: "", title: t("lightbox.download") }, "⤓");
    this.stage = h("div", { class: "lightbox-stage" });
    const button = (cls, label, action, text) => h("button", { class: `button ${cls}`, type: "button", title: label,
      "aria-label": label, onclick: action }, text);
    this.info = new InfoPanel();
    this.infoButton = button("info-toggle", t("lightbox.info"), () => this.toggleInfo(), "i");
    this.infoButton.id = "lightbox-info";
    this.infoButton.setAttribute("aria-controls", this.info.element.id);
    this.root.replaceChildren(
      h("div", { class: "lightbox-bar" }, this.position, this.caption, this.infoButton, this.download,
        button("", t("lightbox.fullscreen"), () => this.fullscreen(), "⛶"),
        button("", t("lightbox.close"), () => this.close(), "✕")),
      h("div", { class: "lightbox-body" }, this.stage, this.info.element),
    );
    this.stage.append(button("nav prev", t("lightbox.prev"), () => this.step(-1), "‹"),
      button("nav next", t("lightbox.next"), () => this.step(1), "›"));
    this.stage.addEventListener("pointerdown", (e) => this.pointerDown(e));
    this.stage.addEventListener("pointermove", (e) => this.pointerMove(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) this.stage.addEventListener(type, (e) => this.pointerUp(e));
    this.stage.addEventListener("dblclick", (e) => this.toggleZoom(e));
    this.stage.addEventListener("wheel", (e) => { e.preventDefault(); this.setZoom(this.zoom.scale * (e.deltaY < 0 ? 1.2 : 1 / 1.2)); },
      { passive: false });
  }

  show() {
    const item = this.items[this.index];
    if (!item) return;
    this.stage.querySelector(".lightbox-media")?.remove();
    const media = item.type === "video"
      ? h("video", { class: "lightbox-media", src: item.originalUrl, controls: true, autoplay: true, preload: "metadata",
        playsinline: true })
      : h("img", { class: "lightbox-media", src: item.originalUrl, alt: item.name, draggable: "false" });
    this.stage.prepend(media);
    this.media = media;
    this.resetZoom();
    this.caption.textContent = item.name;
    this.position.textContent = t("lightbox.position", { n: this.index + 1, total: this.items.length });
    this.download.href = item.originalUrl;
    this.download.setAttribute("download", item.name);
    this.root.dataset.path = item.path;
    this.showInfo();
    this.preload();
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

  preload() {
    for (const offset of [1, -1, 2]) {
      const item = this.items[this.index + offset];
      if (item && item.type !== "video") new Image().src = item.originalUrl;
    }
  }

  async step(delta) {
    let target = this.index + delta;
    if (target >= this.items.length && this.loadMore) {
      this.items = await this.loadMore();
    }
    target = Math.max(0, Math.min(this.items.length - 1, target));
    if (target === this.index) return;
    this.index = target;
    this.show();
  }

  fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.root.requestFullscreen?.().catch(() => {});
  }

  onKey(event) {
    const key = event.key;
    if (key === "ArrowRight") this.step(1);
    else if (key === "ArrowLeft") this.step(-1);
    else if (key === "Escape") this.close();
    else if (key === "f" || key === "F") this.fullscreen();
    else if (key === "i" || key === "I") this.toggleInfo();
    else if (/^[1-9]$/.test(key) && this.items.length >= Number(key)) { this.index = Number(key) - 1; this.show(); }
    else if (key === "h" || key === "H") { this.close(); return false; }  // and let the app go home
    else return false;
    return true;
  }

  // Touch and mouse: one pointer swipes (or drags a zoomed photo), two pointers pinch.
  pointerDown(event) {
    if (event.target.closest("button") || this.media?.tagName === "VIDEO") return;
    try {
      this.stage.setPointerCapture(event.pointerId);  // keep the gesture when the finger leaves the stage
    } catch {
      // not an active pointer (synthetic events): the gesture still works without capture
    }
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.pointers.size === 2) {
      this.gesture = { kind: "pinch", distance: this.distance(), scale: this.zoom.scale };
    } else if (this.pointers.size === 1) {
      this.gesture = { kind: "pan", x: event.clientX, y: event.clientY, startX: this.zoom.x, startY: this.zoom.y };
      if (event.pointerType === "touch") this.doubleTap(event);
    }
  }

  pointerMove(event) {
    if (!this.pointers.has(event.pointerId) || !this.gesture) return;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.gesture.kind === "pinch" && this.pointers.size === 2) {
      this.setZoom(this.gesture.scale * this.distance() / this.gesture.distance);
    } else if (this.gesture.kind === "pan" && this.zoom.scale > 1) {
      this.zoom.x = this.gesture.startX + event.clientX - this.gesture.x;
      this.zoom.y = this.gesture.startY + event.clientY - this.gesture.y;
      this.applyZoom();
    }
  }

  pointerUp(event) {
    if (!this.pointers.has(event.pointerId)) return;
    this.pointers.delete(event.pointerId);
    const gesture = this.gesture;
    if (this.pointers.size > 0) return;
    this.gesture = null;
    if (gesture?.kind === "pan" && this.zoom.scale <= 1) {
      const dx = event.clientX - gesture.x;
      const dy = event.clientY - gesture.y;
      if (Math.abs(dx) > SWIPE_PX && Math.abs(dx) > Math.abs(dy)) this.step(dx < 0 ? 1 : -1);
      else if (dy > SWIPE_PX * 2 && Math.abs(dy) > Math.abs(dx)) this.close();  // swipe down closes
    }
  }

  doubleTap(event) {
    const now = Date.now();
    if (now - this.lastTap < DOUBLE_TAP_MS) {
      this.toggleZoom(event);
      this.lastTap = 0;
    } else {
      this.lastTap = now;
    }
  }

  distance() {
    const [a, b] = [...this.pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y) || 1;
  }

  toggleZoom() {
    this.setZoom(this.zoom.scale > 1 ? 1 : 2.5);
  }

  setZoom(scale) {
    this.zoom.scale = Math.max(1, Math.min(MAX_ZOOM, scale));
    if (this.zoom.scale === 1) { this.zoom.x = 0; this.zoom.y = 0; }
    this.applyZoom();
  }

  resetZoom() {
    this.zoom = { scale: 1, x: 0, y: 0 };
    this.applyZoom();
  }

  applyZoom() {
    if (!this.media) return;
    const { scale, x, y } = this.zoom;
    this.media.style.transform = scale === 1 ? "" : `translate(${x}px, ${y}px) scale(${scale})`;
    if (this.root) this.root.dataset.zoom = String(Math.round(scale * 100) / 100);
  }
}

export const lightbox = new Lightbox();
