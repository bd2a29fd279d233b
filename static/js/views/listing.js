// Pages of albums and media from one paginated URL (album pages and search results), appended as the visitor
// scrolls; redraws itself when the index or a download adds photos. A select mode (selection.js) may ride on it.
// Album pages carry nextCursor: the next page is asked for by it (as cheap at any depth), not by its number.

import { api } from "../api.js";
import { h } from "../dom.js";
import { failureNote } from "../failure.js";
import { t } from "../i18n.js";
import { GridLayout } from "../layout.js";
import { lightbox } from "../lightbox.js";
import { ThumbLoader } from "../thumbs.js";
import { albumCard, mediaCard } from "./cards.js";

const REFRESH_MS = 1000;

export class Listing {
  constructor(app, { url, empty, count, onPage, onError, up = null }) {
    Object.assign(this, { app, url, empty, onPage, onError, up });
    this.countText = count || ((total) => t("gallery.count", { count: total }));
    this.thumbs = new ThumbLoader(app.live, { onAuth: () => app.goLogin() });
    this.media = [];
    this.page = 0;
    this.totalPages = 1;
    this.cursor = null;
    this.loading = false;
    this.counter = h("span", { class: "count" });
    this.albums = h("div", { class: "albums", id: "albums" });
    this.grid = h("div", { class: "grid", id: "grid" });
    this.layout = new GridLayout(this.grid);
    this.albumTitle = h("h3", { class: "section-title", hidden: true }, t("gallery.albums"));
    this.mediaTitle = h("h3", { class: "section-title", hidden: true }, t("gallery.photos"));
    this.sentinel = h("div", { class: "sentinel" });
    this.more = h("div", { class: "loading-more", hidden: true }, t("gallery.loadingMore"));
    this.notice = h("button", { class: "button", type: "button", hidden: true, onclick: () => this.reload() },
      t("gallery.newPhotos"));
    this.emptyNote = h("p", { class: "empty", hidden: true });
    this.failure = h("div", { class: "failure-slot" });  // a failed load's note and Retry (failure.js)
    this.element = h("div", { class: "listing" }, this.notice, this.failure, this.emptyNote, this.albumTitle, this.albums,
      this.mediaTitle, this.grid, this.more, this.sentinel);
    this.scroller = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.next();
    }, { rootMargin: "800px 0px" });
    this.onChange = () => this.changed();
    for (const type of ["index-complete", "album-changed"]) app.live.addEventListener(type, this.onChange);
    this.refreshTimer = null;
    this.selection = null;  // a Selection (selection.js) the album page sets: it sees every card drawn
  }

  start() {
    this.next().then(() => this.scroller.observe(this.sentinel));
  }

  async next() {
    if (this.loading || this.page >= this.totalPages || this.disposed) return;
    this.loading = true;
    this.more.hidden = this.page === 0;
    try {
      // quiet: a failure is said on the page, not in a toast
      const result = await api(this.url(this.page + 1, this.cursor), { quiet: true });
      if (this.disposed) return;
      this.take(result);
      this.failed = false;
      this.failure.replaceChildren();
      this.draw(result);
    } catch (error) {
      this.totalPages = this.page;  // stop scrolling into an error; the note says why and offers Retry
      if (!this.disposed) this.fail(error);
    } finally {
      this.loading = false;
      this.more.hidden = true;
    }
    if (this.page < this.totalPages && this.sentinelVisible()) this.next();
    // Observed anew, it reports its state once more: a report that came while this page loaded was dropped
    // above, and a sentinel that stays in view never reports again (a fling stalled at 200 of 300 cards).
    else if (this.page > 0 && !this.disposed) {
      this.scroller.unobserve(this.sentinel);
      this.scroller.observe(this.sentinel);
    }
  }

  take(result) {
    this.page = result.page;
    this.cursor = result.nextCursor;  // undefined for search results, which go by page number
    this.totalPages = result.nextCursor === undefined ? result.totalPages : this.page + (result.nextCursor ? 1 : 0);
  }

  // The first page failed: the note, with Retry (and a link up for a missing album); a later page: a short
  // note under what is shown. The search view explains a refused query itself (onError returns true).
  fail(error) {
    this.failed = true;
    if (this.onError?.(error)) return;
    const first = this.page === 0;
    this.failure.replaceChildren(failureNote(error, { retry: () => this.retry(), up: first ? this.up : null,
      title: first ? undefined : t("failure.more") }));
  }

  retry() {
    this.failure.replaceChildren();
    this.totalPages = this.page + 1;
    this.next();
  }

  // The event stream is back after a drop (app.js): a failed load tries again; a first page is refreshed.
  onReconnect() {
    if (this.failed) this.retry();
    else if (this.page <= 1 && !lightbox.isOpen()) this.reload();
  }

  draw(result) {
    this.onPage?.(result);
    const cards = [];
    const albums = [];
    for (const item of result.items) {
      if (item.type === "album") albums.push(albumCard(item, this.app, this.thumbs));
      else cards.push(mediaCard(item, this.media.push(item) - 1, this.thumbs, (index) => this.open(index)));
    }
    this.albums.append(...albums);
    this.grid.append(...cards);
    this.layout.add(cards);
    this.selection?.adopt([...albums, ...cards]);
    this.counter.textContent = this.countText(result.totalResults, result);
    this.albumTitle.hidden = !(this.albums.children.length && this.grid.children.length);
    this.mediaTitle.hidden = this.albumTitle.hidden;
    this.emptyNote.hidden = result.totalResults > 0;
    this.emptyNote.textContent = this.empty();
  }

  sentinelVisible() {
    const box = this.sentinel.getBoundingClientRect();
    return box.top < window.innerHeight + 800;
  }

  open(index) {
    if (this.selection?.active) return;  // a click in select mode chooses, it never opens
    lightbox.open(this.media, index, { loadMore: () => this.next().then(() => this.media) });
  }

  // Photos were added somewhere: redraw if the visitor is still on the first page, else offer to.
  changed() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (this.page <= 1 && !lightbox.isOpen()) this.reload();
      else this.notice.hidden = false;
    }, REFRESH_MS);
  }

  async reload() {
    this.notice.hidden = true;
    const result = await api(this.url(1), { quiet: true }).catch(() => null);
    if (!result || this.disposed) return;
    this.albums.replaceChildren();
    this.grid.replaceChildren();
    this.layout.clear();
    this.media = [];
    this.take(result);
    this.draw(result);
  }

  layoutButton() {
    return h("button", { class: "button", type: "button", id: "layout-toggle", title: t("gallery.layout"),
      onclick: () => this.toggleLayout() }, "▦");
  }

  toggleLayout() {
    this.layout.toggle();
  }

  onKey(event) {
    if (this.selection?.onKey(event)) return true;
    if (event.key === "g" || event.key === "G") {
      this.toggleLayout();
      return true;
    }
    if (/^[1-9]$/.test(event.key) && this.media.length >= Number(event.key)) {
      this.open(Number(event.key) - 1);
      return true;
    }
    return false;
  }

  dispose() {
    this.disposed = true;
    this.selection?.dispose();
    clearTimeout(this.refreshTimer);
    this.scroller.disconnect();
    this.thumbs.dispose();
    this.layout.dispose();
    for (const type of ["index-complete", "album-changed"]) this.app.live.removeEventListener(type, this.onChange);
  }
}
