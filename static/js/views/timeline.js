// The timeline: every photo and video below an album (the root by default) by month taken, newest first.
// Month headers come at once from GET /api/timeline, each with a placeholder sized from its count; a
// month's items load (GET /api/timeline/YYYY-MM, page by page) only when it comes near the viewport. A
// year/month scrubber on the side jumps to any month.

import { api } from "../api.js";
import { monthTitle, shortMonth } from "../dates.js";
import { h } from "../dom.js";
import { failureNote } from "../failure.js";
import { addStrings, t } from "../i18n.js";
import { GridLayout, estimateHeight } from "../layout.js";
import { lightbox } from "../lightbox.js";
import { ThumbLoader } from "../thumbs.js";
import { mediaCard } from "./cards.js";

const MONTH_LIMIT = 200;
const NEAR = "1200px 0px";

addStrings({
  en: {
    "timeline.title": "Timeline", "timeline.in": "Timeline of {album}", "timeline.count": "{count} photos and videos",
    "timeline.empty": "No photos or videos here yet.", "timeline.scrubber": "Jump to a year or month",
    "timeline.album": "Open the album",
  },
  "zh-CN": {
    "timeline.title": "时间线", "timeline.in": "{album} 的时间线", "timeline.count": "{count} 张照片和视频",
    "timeline.empty": "这里还没有照片或视频。", "timeline.scrubber": "跳转到某年或某月",
    "timeline.album": "打开相册",
  },
});

export function mount(container, { path }, app) {
  const view = new Timeline(app, path);
  container.append(view.element);
  view.start();
  return view;
}

class Timeline {
  constructor(app, path) {
    Object.assign(this, { app, path, months: [], disposed: false });
    this.thumbs = new ThumbLoader(app.live, { onAuth: () => app.goLogin() });
    this.counter = h("span", { class: "count" });
    const album = path ? path.split("/").pop() : "";
    const title = h("h2", { class: "breadcrumbs" }, album ? t("timeline.in", { album }) : t("timeline.title"));
    const back = path ? h("a", { class: "button", href: app.albumHash(path) }, t("timeline.album")) : null;
    this.list = h("div", { class: "timeline-months" });
    this.scrubber = h("nav", { class: "scrubber", id: "scrubber", "aria-label": t("timeline.scrubber") });
    this.emptyNote = h("p", { class: "empty", hidden: true }, t("timeline.empty"));
    this.element = h("div", { class: "timeline" }, h("div", { class: "toolbar" }, title, this.counter, back),
      this.emptyNote, h("div", { class: "timeline-body" }, this.list, this.scrubber));
    this.near = new IntersectionObserver((entries) => this.onNear(entries), { rootMargin: NEAR });
    this.onResize = () => this.resizePlaceholders();
    window.addEventListener("resize", this.onResize);
  }

  async start() {
    const query = this.path ? `?path=${encodeURIComponent(this.path)}` : "";
    const answer = await api(`api/timeline${query}`, { quiet: true }).catch((error) => this.fail(error));
    if (!answer || this.disposed) return;
    this.failed = false;
    this.months = answer.months.map((entry) => new Month(this, entry));
    const total = this.months.reduce((sum, month) => sum + month.count, 0);
    this.counter.textContent = t("timeline.count", { count: total });
    this.emptyNote.hidden = this.months.length > 0;
    this.list.replaceChildren(...this.months.map((month) => month.element));
    this.drawScrubber();
    this.resizePlaceholders();
    for (const month of this.months) this.near.observe(month.element);
  }

  // A failed load keeps the toolbar and says why, with Retry (failure.js); app.js retries when the stream is back.
  fail(error) {
    this.failed = true;
    this.note = failureNote(error, { retry: () => this.onReconnect() });
    if (!this.disposed) this.emptyNote.before(this.note);
    return null;
  }

  onReconnect() {
    if (!this.failed) return;
    this.note?.remove();
    this.start();
  }

  onNear(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.near.unobserve(entry.target);  // later pages load from the month's own sentinel
      this.months.find((m) => m.element === entry.target)?.loadNext();
    }
  }

  drawScrubber() {
    const years = new Map();
    for (const month of this.months) {
      if (!years.has(month.year)) years.set(month.year, []);
      years.get(month.year).push(month);
    }
    const monthButton = (month) => h("li", {}, h("button", { type: "button", class: "scrub-month",
      dataset: { month: month.key }, "aria-label": monthTitle(month.year, month.month), onclick: () => this.jump(month) },
    shortMonth(month.month)));
    const yearEntry = ([year, months]) => h("li", { class: "scrub-year", dataset: { year } },
      h("button", { type: "button", class: "scrub-year-button", onclick: () => this.jump(months[0]) }, String(year)),
      h("ol", { class: "scrub-months" }, months.map(monthButton)));
    this.scrubber.replaceChildren(h("ol", { class: "scrub-years" }, [...years].map(yearEntry)));
  }

  // Scroll the month to the top and load it now (the observer would, but only after the scroll settles).
  jump(month) {
    month.element.scrollIntoView({ block: "start" });
    month.loadNext();
    month.heading.focus({ preventScroll: true });
  }

  resizePlaceholders() {
    const width = this.list.clientWidth || window.innerWidth;
    for (const month of this.months) month.estimate(width);
  }

  dispose() {
    this.disposed = true;
    this.near.disconnect();
    this.thumbs.dispose();
    window.removeEventListener("resize", this.onResize);
    for (const month of this.months) month.dispose();
  }
}

// One month: its header, a grid that holds the place of the photos not loaded yet, and the loaded pages.
class Month {
  constructor(timeline, { year, month, count }) {
    Object.assign(this, { timeline, year, month, count, items: [], page: 0, totalPages: 1, loading: null });
    this.key = `${year}-${String(month).padStart(2, "0")}`;
    this.heading = h("h3", { class: "month-title", tabindex: "-1" }, monthTitle(year, month),
      h("span", { class: "count" }, String(count)));
    this.grid = h("div", { class: "grid month-grid" });
    this.layout = new GridLayout(this.grid);
    this.sentinel = h("div", { class: "month-more" });
    this.element = h("section", { class: "month", id: `month-${this.key}`, dataset: { month: this.key, state: "idle" } },
      this.heading, this.grid);
    this.more = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadNext();
    }, { rootMargin: NEAR });
  }

  // The grid keeps the height of all its photos, loaded or not, so the page does not jump as months load.
  estimate(width) {
    if (this.page >= this.totalPages && this.page > 0) return;  // all loaded: its own height is the real one
    this.grid.style.minHeight = `${estimateHeight(this.grid, this.count, width)}px`;
  }

  loadNext() {
    if (this.loading || this.page >= this.totalPages || this.timeline.disposed) return this.loading;
    this.element.dataset.state = "loading";
    this.loading = this.fetchPage(this.page + 1).finally(() => { this.loading = null; });
    return this.loading;
  }

  async fetchPage(page) {
    const path = this.timeline.path ? `&path=${encodeURIComponent(this.timeline.path)}` : "";
    let answer;
    try {
      answer = await api(`api/timeline/${this.key}?page=${page}&limit=${MONTH_LIMIT}${path}`);
    } catch {
      this.totalPages = this.page;  // the toast said why; do not retry in a loop
      this.element.dataset.state = "failed";
      return;
    }
    if (this.timeline.disposed) return;
    this.page = answer.page;
    this.totalPages = answer.totalPages;
    const cards = answer.items.map((item) => mediaCard(item, this.items.push(item) - 1, this.timeline.thumbs,
      (index) => this.open(index)));
    this.grid.append(...cards);
    this.layout.add(cards);
    const done = this.page >= this.totalPages;
    this.element.dataset.state = done ? "loaded" : "partial";
    if (done) {
      this.grid.style.minHeight = "";
      this.more.disconnect();
      this.sentinel.remove();
    } else {
      this.more.unobserve(this.sentinel);  // observed anew, so it reports even when it stays in view
      this.grid.append(this.sentinel);  // right after the loaded cards, not at the far end of the placeholder
      this.more.observe(this.sentinel);
    }
  }

  open(index) {
    lightbox.open(this.items, index, { loadMore: async () => { await this.loadNext(); return this.items; } });
  }

  dispose() {
    this.more.disconnect();
    this.layout.dispose();
  }
}
