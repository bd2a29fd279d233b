// The gallery: an album page (breadcrumbs, sort, the ⋯ menu and select mode, albums then photos, infinite scroll)
// and search results, both drawn by one Listing (listing.js), which refreshes itself when photos are added.

import { api } from "../api.js";
import { encodePath, h } from "../dom.js";
import { addStrings, language, t } from "../i18n.js";
import { Selection, zipAllowed } from "../selection.js";
import { albumMenu } from "./album-menu.js";
import { albumCard } from "./cards.js";
import { Listing } from "./listing.js";
import { memoriesStrip } from "./memories.js";
import { describeSearchError, filterChips } from "./search-filters.js";

const PAGE_LIMIT = 100;
const SORTS = ["smart", "taken_desc", "taken_asc", "name_asc", "name_desc", "mtime_desc", "mtime_asc", "viewed_desc"];
const SORT_KEY = "photonix.sort";
const RECENT_LIMIT = 12;
/** Share mode (share-mode.js) roots album pages at the shared album: the trail starts there, no timeline link. */
export const albumRoot = { path: "", name: null, timeline: true };

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
    "search.resultsAtLeast": "{count}+ results",
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
    "search.resultsAtLeast": "{count}+ 个结果",
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
    url: (page, cursor) => `${path ? `api/browse/${encodePath(path)}` : "api/browse"}?${
      cursor ? `cursor=${encodeURIComponent(cursor)}` : `page=${page}`}&limit=${PAGE_LIMIT}&sort=${sort}`,
    empty: () => t(path ? "gallery.emptyAlbum" : "gallery.emptyRoot"),
    onPage: (result) => drawCrumbs(crumbs, result.breadcrumbs, app),
    up: path ? parentOf(path, app) : null,
  });
  drawCrumbs(crumbs, pathCrumbs(path), app);  // the frame stands before (and whether or not) the album loads
  const below = path && albumRoot.timeline ? h("a", { class: "button", id: "all-below", href: app.timelineHash(path) }, t("gallery.allBelow")) : null;
  const toolbar = h("div", { class: "toolbar" }, crumbs, listing.counter, below, select, listing.layoutButton(),
    ...albumActions(app, path, listing));
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
    // Past 10,000 photos the server stops counting: the total is "at least" (totalIsLowerBound), e.g. "10,000+"
    count: (total, result) => (result.totalIsLowerBound
      ? t("search.resultsAtLeast", { count: total.toLocaleString(language()) })
      : t("search.results", { count: total })),
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
  const root = albumRoot.path;
  const inside = (crumb) => crumb.path && crumb.path !== root && (!root || crumb.path.startsWith(`${root}/`));
  const trail = [{ name: albumRoot.name || t("gallery.home"), path: root }, ...(breadcrumbs || []).filter(inside)];
  const far = trail.length - 2;  // everything before the parent
  const parts = trail.map((crumb, i) => h("span", { class: i < far && far > 1 ? "crumb far" : "crumb" },
    i ? h("span", { class: "sep", "aria-hidden": "true" }, "/") : null,
    h("a", { href: app.albumHash(crumb.path), "aria-current": i === trail.length - 1 ? "page" : null },
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

// Select (selection.js, when ZIPs may be downloaded: its one action) and the album's ⋯ menu (album-menu.js).
function albumActions(app, path, listing) {
  if (zipAllowed(app)) listing.selection = new Selection(listing.element);
  const name = path ? path.split("/").pop() : app.settings?.siteTitle || t("gallery.home");
  const menu = albumMenu(app, { path, name });
  const dispose = listing.dispose.bind(listing);
  listing.dispose = () => { menu.close(); dispose(); };
  return [listing.selection?.button, menu.element];
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
