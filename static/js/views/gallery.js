// The gallery: an album page (breadcrumbs, sort, albums then photos, infinite scroll) and search
// results, both drawn by one Listing. Refreshes itself when the index or a download adds photos.

import { api } from "../api.js";
import { encodePath, h } from "../dom.js";
import { failureNote } from "../failure.js";
import { addStrings, t } from "../i18n.js";
import { GridLayout } from "../layout.js";
import { lightbox } from "../lightbox.js";
import { ThumbLoader } from "../thumbs.js";
import { albumCard, mediaCard } from "./cards.js";
import { memoriesStrip } from "./memories.js";
import { describeSearchError, filterChips } from "./search-filters.js";

const PAGE_LIMIT = 100;
const SORTS = ["smart", "taken_desc", "taken_asc", "name_asc", "name_desc", "mtime_desc", "mtime_asc", "viewed_desc"];
const SORT_KEY = "photonix.sort";
const REFRESH_MS = 1000;
const RECENT_LIMIT = 12;

addStrings({
  en: {
    "gallery.home": "Home", "gallery.albums": "Albums", "gallery.photos": "Photos and videos",
    "gallery.recent": "Recently viewed", "gallery.sort": "Sort", "gallery.layout": "Squares / justified rows (G)",
    "sort.smart": "Smart", "sort.name_asc": "Name A→Z", "sort.name_desc": "Name Z→A", "sort.mtime_desc": "Newest first",
    "sort.mtime_asc": "Oldest first", "sort.viewed_desc": "Recently viewed", "sort.taken_desc": "Date taken, newest",
    "sort.taken_asc": "Date taken, oldest",
    "gallery.count": { one: "{count} item", other: "{count} items" },
    "gallery.emptyRoot": "No photos yet. Put photos and folders in the photos folder and they appear here.",
    "gallery.emptyAlbum": "This album is empty.", "gallery.loadingMore": "Loading more…",
    "gallery.newPhotos": "New photos arrived — show them", "search.title": "Search: {query}",
    "search.none": "Nothing matches “{query}”.", "search.results": { one: "{count} result", other: "{count} results" },
    "gallery.allBelow": "All photos below", "gallery.fullPath": "Show the whole path",
  },
  "zh-CN": {
    "gallery.home": "首页", "gallery.albums": "相册", "gallery.photos": "照片和视频",
    "gallery.recent": "最近浏览", "gallery.sort": "排序", "gallery.layout": "方格 / 等高行 (G)",
    "sort.smart": "智能", "sort.name_asc": "名称 A→Z", "sort.name_desc": "名称 Z→A", "sort.mtime_desc": "最新优先",
    "sort.mtime_asc": "最早优先", "sort.viewed_desc": "最近浏览", "sort.taken_desc": "拍摄时间，最新优先",
    "sort.taken_asc": "拍摄时间，最早优先",
    "gallery.count": "{count} 项", "gallery.emptyRoot": "还没有照片。把照片和文件夹放进照片目录，它们就会出现在这里。",
    "gallery.emptyAlbum": "这个相册是空的。", "gallery.loadingMore": "正在加载更多…",
    "gallery.newPhotos": "有新照片，点击显示", "search.title": "搜索：{query}",
    "search.none": "没有与“{query}”匹配的内容。", "search.results": "{count} 个结果",
    "gallery.allBelow": "下面的所有照片", "gallery.fullPath": "显示完整路径",
  },
});

export function mountAlbum(container, { path }, app) {
  const sort = SORTS.includes(localStorage.getItem(SORT_KEY)) ? localStorage.getItem(SORT_KEY) : "smart";
  const crumbs = h("nav", { class: "breadcrumbs", "aria-label": "Breadcrumbs" });
  const select = h("select", { id: "sort-select", "aria-label": t("gallery.sort") },
    SORTS.map((name) => h("option", { value: name, selected: name === sort }, t(`sort.${name}`))));
  select.addEventListener("change", () => {
    localStorage.setItem(SORT_KEY, select.value);
    app.render();
  });
  const listing = new Listing(app, {
    url: (page) => `${path ? `api/browse/${encodePath(path)}` : "api/browse"}?page=${page}&limit=${PAGE_LIMIT}&sort=${sort}`,
    empty: () => t(path ? "gallery.emptyAlbum" : "gallery.emptyRoot"),
    onPage: (result) => drawCrumbs(crumbs, result.breadcrumbs, app),
    up: path ? parentOf(path, app) : null,
  });
  drawCrumbs(crumbs, pathCrumbs(path), app);  // the frame stands before (and whether or not) the album loads
  const below = path ? h("a", { class: "button", id: "all-below", href: app.timelineHash(path) }, t("gallery.allBelow")) : null;
  const toolbar = h("div", { class: "toolbar" }, crumbs, listing.counter, below, select, listing.layoutButton());
  container.append(toolbar);
  if (!path) container.append(memoriesStrip(listing.thumbs), recentlyViewed(app, listing));
  container.append(listing.element);
  listing.start();
  if (path) api("api/browse/viewed", { method: "POST", body: { path }, quiet: true }).catch(() => {});
  return listing;
}

export function mountSearch(container, { text: query }, app) {
  document.getElementById("search-input").value = query;
  const listing = new Listing(app, {
    url: (page) => `api/search?q=${encodeURIComponent(query)}&page=${page}&limit=${PAGE_LIMIT}`,
    empty: () => t("search.none", { query }),
    count: (total) => t("search.results", { count: total }),
    onError: (error) => {
      if (error?.status !== 400) return false;  // not the query's fault: the failure note and Retry
      listing.emptyNote.hidden = false;
      listing.emptyNote.classList.add("search-error");
      listing.emptyNote.setAttribute("role", "alert");
      listing.emptyNote.textContent = describeSearchError(error, query) || t("error.network");
      return true;
    },
  });
  const chips = filterChips(query, (rest) => app.navigate(rest ? `#/search/${encodeURIComponent(rest)}` : "#/"));
  container.append(h("div", { class: "toolbar" }, h("h2", { class: "breadcrumbs" }, t("search.title", { query })),
    listing.counter, listing.layoutButton()), chips, listing.element);
  listing.start();
  const dispose = listing.dispose.bind(listing);
  listing.dispose = () => { document.getElementById("search-input").value = ""; dispose(); };
  return listing;
}

// Home / a / b / c; on a phone (app.css) a deep trail shows "… / b / c", and the … opens the whole trail.
function drawCrumbs(nav, breadcrumbs, app) {
  const trail = [{ name: t("gallery.home"), path: "" }, ...(breadcrumbs || []).filter((crumb) => crumb.path)];
  const far = trail.length - 2;  // everything before the parent
  const parts = trail.map((crumb, i) => h("span", { class: i < far && far > 1 ? "crumb far" : "crumb" },
    i ? h("span", { class: "sep", "aria-hidden": "true" }, "/") : null,
    h("a", { href: crumb.path ? app.albumHash(crumb.path) : "#/", "aria-current": i === trail.length - 1 ? "page" : null },
      crumb.name)));
  const more = far > 1 ? h("button", { class: "crumb-more", type: "button", "aria-label": t("gallery.fullPath"),
    "aria-expanded": "false", onclick: () => {
      nav.classList.add("expanded");
      more.setAttribute("aria-expanded", "true");
      nav.querySelector("a")?.focus();  // the … itself is gone now
    } }, "…") : null;
  nav.classList.remove("expanded");
  nav.classList.toggle("deep", far > 1);
  nav.replaceChildren(...(more ? [more] : []), ...parts);
}

// The trail the album's own path gives, before the server's answer (which has the same names).
function pathCrumbs(path) {
  const names = path ? path.split("/") : [];
  return names.map((name, i) => ({ name, path: names.slice(0, i + 1).join("/") }));
}

function parentOf(path, app) {
  const parent = path.split("/").slice(0, -1).join("/");
  return { href: app.albumHash(parent), name: parent ? parent.split("/").pop() : t("gallery.home") };
}

function recentlyViewed(app, listing) {
  const section = h("section", { id: "recent", hidden: true },
    h("h3", { class: "section-title" }, t("gallery.recent")));
  const row = h("div", { class: "recent" });
  section.append(row);
  api(`api/browse/viewed?limit=${RECENT_LIMIT}`, { quiet: true }).then((answer) => {
    const albums = (answer.items || []).filter((album) => album.path);
    row.append(...albums.map((album) => albumCard(album, app, listing.thumbs)));
    section.hidden = albums.length === 0;
  }, () => {});
  return section;
}

// Pages of albums and media from one paginated URL, appended as the visitor scrolls.
class Listing {
  constructor(app, { url, empty, count, onPage, onError, up = null }) {
    Object.assign(this, { app, url, empty, onPage, onError, up });
    this.countText = count || ((total) => t("gallery.count", { count: total }));
    this.thumbs = new ThumbLoader(app.live, { onAuth: () => app.goLogin() });
    this.media = [];
    this.page = 0;
    this.totalPages = 1;
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
      const result = await api(this.url(this.page + 1), { quiet: true });
      if (this.disposed) return;
      this.page = result.page;
      this.totalPages = result.totalPages;
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
    for (const item of result.items) {
      if (item.type === "album") this.albums.append(albumCard(item, this.app, this.thumbs));
      else cards.push(mediaCard(item, this.media.push(item) - 1, this.thumbs, (index) => this.open(index)));
    }
    this.grid.append(...cards);
    this.layout.add(cards);
    this.counter.textContent = this.countText(result.totalResults);
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
    this.page = result.page;
    this.totalPages = result.totalPages;
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
    clearTimeout(this.refreshTimer);
    this.scroller.disconnect();
    this.thumbs.dispose();
    this.layout.dispose();
    for (const type of ["index-complete", "album-changed"]) this.app.live.removeEventListener(type, this.onChange);
  }
}
