// One video on the lightbox's stage, played the way its item says (`playable`, decided by the server): its
// original file ("direct"; also "failed", which the browser may still manage), its HLS rendition ("hls": natively
// where the browser plays HLS, else with the vendored hls.js, loaded only then), or, while the rendition is being
// made ("pending"), its poster frame with "Preparing video…" and the progress the server announces, switching to
// the rendition as soon as it is ready.
//
//   const video = new VideoView(item);  stage.prepend(video.element);  video.start();  …  video.dispose();
//   followVideoEvents(app.live);   // once: video-progress / video-ready / video-failed reach the open view
//
// element.dataset.video says what plays, for the CSS and the tests: direct|native|hls.js|pending|unplayable.

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";

const HLS_MODULE = "../vendor/hls/hls.light.min.js";
const HLS_TYPE = "application/vnd.apple.mpegurl";
const EVENTS = ["video-progress", "video-ready", "video-failed"];
const news = new EventTarget();

addStrings({
  en: { "video.preparing": "Preparing video…", "video.preparingProgress": "Preparing video… {percent}%",
    "video.failed": "This video could not be prepared for streaming: trying the original file.",
    "video.unplayable": "This browser cannot play this video. Download the original to watch it." },
  "zh-CN": { "video.preparing": "正在准备视频…", "video.preparingProgress": "正在准备视频… {percent}%",
    "video.failed": "此视频无法转换为流媒体，正在尝试播放原始文件。",
    "video.unplayable": "此浏览器无法播放该视频，请下载原始文件观看。" },
});

/** Pass the live stream's video events on to the open VideoView (call once). */
export function followVideoEvents(live) {
  for (const type of EVENTS) {
    live.addEventListener(type, (event) => news.dispatchEvent(new CustomEvent(type, { detail: event.detail })));
  }
}

export class VideoView {
  constructor(item) {
    this.item = item;
    this.element = h("div", { class: "lightbox-video" });
    this.hls = null;
    this.listeners = [];
    this.disposed = false;
  }

  start() {
    const { playable, hlsUrl } = this.item;
    if (playable === "hls" && hlsUrl) this.playHls(hlsUrl);
    else if (playable === "pending") this.waitForRendition();
    else this.playOriginal(playable === "failed" ? t("video.failed") : "");
  }

  dispose() {
    this.disposed = true;
    for (const [type, listener] of this.listeners) news.removeEventListener(type, listener);
    this.listeners = [];
    this.hls?.destroy();
    this.hls = null;
    const video = this.element.querySelector("video");
    if (video) {
      video.pause();
      video.removeAttribute("src");
      video.load();  // stops the download
    }
  }

  show(mode, ...children) {
    this.element.dataset.video = mode;
    this.element.replaceChildren(...children);
  }

  videoElement(src) {
    const video = h("video", { class: "lightbox-media", poster: this.item.previewUrl || this.item.thumbnailUrl,
      controls: true, autoplay: true, preload: "metadata", playsinline: true, src });
    video.addEventListener("error", () => {
      if (!this.disposed && this.element.dataset.video === "direct") this.unplayable();
    });
    return video;
  }

  playOriginal(note) {
    const video = this.videoElement(this.item.originalUrl);
    this.show("direct", video, note ? h("p", { class: "video-note", role: "status" }, note) : null);
  }

  async playHls(url) {
    const probe = document.createElement("video");
    if (probe.canPlayType(HLS_TYPE)) {
      this.show("native", this.videoElement(url));
      return;
    }
    let Hls;
    try {
      ({ default: Hls } = await import(HLS_MODULE));
    } catch {
      Hls = null;
    }
    if (this.disposed) return;
    if (!Hls?.isSupported()) {
      this.playOriginal("");
      return;
    }
    const video = this.videoElement(null);
    this.show("hls.js", video);
    this.hls = new Hls({ maxBufferLength: 30 });
    this.hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal && !this.disposed) {
        this.hls.destroy();
        this.hls = null;
        this.unplayable();
      }
    });
    this.hls.loadSource(url);
    this.hls.attachMedia(video);
  }

  waitForRendition() {
    const text = h("p", { class: "video-progress-text", role: "status" }, t("video.preparing"));
    const bar = h("progress", { class: "video-progress-bar", max: 100 });
    const poster = h("img", { class: "lightbox-media video-poster", alt: "",
      src: this.item.previewUrl || this.item.thumbnailUrl });
    this.show("pending", poster, h("div", { class: "video-pending" }, text, bar));
    this.on("video-progress", ({ progress }) => {
      const percent = Math.round(Math.max(0, Math.min(1, Number(progress) || 0)) * 100);
      bar.value = percent;
      text.textContent = t("video.preparingProgress", { percent });
    });
    this.on("video-ready", ({ v }) => {
      this.off();
      // The address the item would carry now: /api/file/<path> → /api/video/<path>/master.m3u8?v=<version>
      const url = this.item.originalUrl.replace(/\/api\/file\//, "/api/video/") + `/master.m3u8?v=${encodeURIComponent(v)}`;
      this.item = { ...this.item, playable: "hls", hlsUrl: url };
      this.playHls(url);
    });
    this.on("video-failed", () => {
      this.off();
      this.item = { ...this.item, playable: "failed" };
      this.playOriginal(t("video.failed"));
    });
  }

  unplayable() {
    this.show("unplayable", h("p", { class: "video-note", role: "alert" }, t("video.unplayable")));
  }

  on(type, handle) {
    const listener = (event) => { if (event.detail?.path === this.item.path) handle(event.detail); };
    news.addEventListener(type, listener);
    this.listeners.push([type, listener]);
  }

  off() {
    for (const [type, listener] of this.listeners) news.removeEventListener(type, listener);
    this.listeners = [];
  }
}
