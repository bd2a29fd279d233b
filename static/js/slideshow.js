// The lightbox's slideshow: Space or the ▶ button starts and stops it; it moves on every 3, 5 or 10 s (the choice
// is remembered in this browser), lets a playing video finish first, pauses — and says so — on any key or
// pointer, and stops after the last item rather than looping (with pages still to load, "the first" is unclear).
// The lightbox preloads the next item's preview, so each step lands on a sharp photo.
//
//   const show = new Slideshow({ next: () => lightbox.step(1), media: () => lightbox.media, onState });
//   bar.append(show.element);  show.shown();  // after each item is shown;  show.pause();  show.stop()

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import { icon } from "./icons.js";

const INTERVALS_S = [3, 5, 10];
const DEFAULT_S = 5;
const SAVED_KEY = "photonix.slideshow.interval";

addStrings({
  en: { "slideshow.start": "Start slideshow (Space)", "slideshow.stop": "Stop slideshow (Space)",
    "slideshow.interval": "Slideshow interval", "slideshow.seconds": "{n} s", "slideshow.paused": "Paused" },
  "zh-CN": { "slideshow.start": "开始幻灯片 (空格)", "slideshow.stop": "停止幻灯片 (空格)",
    "slideshow.interval": "幻灯片间隔", "slideshow.seconds": "{n} 秒", "slideshow.paused": "已暂停" },
});

export class Slideshow {
  constructor({ next, media, onState = () => {} }) {
    Object.assign(this, { next, media, onState });
    this.state = "off";
    this.timer = null;
    this.button = h("button", { class: "button icon-button slideshow-toggle", type: "button", id: "lightbox-slideshow",
      onclick: () => this.toggle() });
    this.select = h("select", { class: "slideshow-interval", id: "lightbox-interval", "aria-label": t("slideshow.interval"),
      onchange: () => this.choose(Number(this.select.value)) },
    ...INTERVALS_S.map((seconds) => h("option", { value: seconds }, t("slideshow.seconds", { n: seconds }))));
    this.select.value = String(this.interval());
    this.status = h("span", { class: "slideshow-status", role: "status" });
    this.element = h("div", { class: "slideshow-controls" }, this.button, this.select, this.status);
    this.draw();
  }

  interval() {
    const saved = Number(localStorage.getItem(SAVED_KEY));
    return INTERVALS_S.includes(saved) ? saved : DEFAULT_S;
  }

  choose(seconds) {
    localStorage.setItem(SAVED_KEY, String(seconds));
    if (this.state === "playing") this.schedule();
  }

  toggle() {
    if (this.state === "playing") this.stop();
    else this.play();
  }

  play() {
    this.set("playing");
    this.schedule();
  }

  /** Any other interaction: hold the show where it is until Space or ▶ resumes it. */
  pause() {
    if (this.state === "playing") this.set("paused");
  }

  stop() {
    this.set("off");
  }

  /** The lightbox shows another item: its full interval starts now. */
  shown() {
    if (this.state === "playing") this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.advance(), this.interval() * 1000);
  }

  async advance() {
    if (this.state !== "playing") return;
    const video = this.media();
    if (video?.tagName === "VIDEO" && !video.paused && !video.ended) {
      video.addEventListener("ended", () => { if (this.media() === video) this.advance(); }, { once: true });
      return;
    }
    if (!(await this.next())) this.stop();  // the last item: the show is over
  }

  set(state) {
    this.state = state;
    if (state !== "playing") clearTimeout(this.timer);
    this.draw();
    this.onState(state);
  }

  draw() {
    const playing = this.state === "playing";
    const label = t(playing ? "slideshow.stop" : "slideshow.start");
    this.button.replaceChildren(icon(playing ? "pause" : "play"));
    this.button.title = label;
    this.button.setAttribute("aria-label", label);
    this.status.textContent = this.state === "paused" ? t("slideshow.paused") : "";
  }
}
