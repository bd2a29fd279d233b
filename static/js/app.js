// The single-page app: boots from the auth status, routes on the URL hash (so any sub-path prefix
// works), keeps one live event stream, and hands keys to the lightbox, then the view, then the globals.

import { api, AUTH_CODES, adminToken, clearAdminToken, leaveShareSession, session } from "./api.js";
import { encodePath } from "./dom.js";
import { failureNote } from "./failure.js";
import { LiveEvents } from "./events.js";
import { addStrings, detectLanguage, language, setLanguage, t } from "./i18n.js";
import { lightbox } from "./lightbox.js";
import { followVideoEvents } from "./lightbox-video.js";
import { wireSearchBox } from "./views/search-filters.js";

// Views load when first visited: [hash route, module, exported mount function, params from the match].
const GALLERY = "./views/gallery.js";
const TIMELINE = "./views/timeline.js";
const ROUTES = [
  [/^\/?$/, GALLERY, "mountAlbum", () => ({ path: "" })],
  [/^\/browse\/(.*)$/, GALLERY, "mountAlbum", (m) => ({ path: decodePath(m[1]) })],
  [/^\/timeline\/?$/, TIMELINE, "mount", () => ({ path: "" })],
  [/^\/timeline\/(.+)$/, TIMELINE, "mount", (m) => ({ path: decodePath(m[1]) })],
  [/^\/search\/(.*)$/, GALLERY, "mountSearch", (m) => ({ text: decodeURIComponent(m[1]) })],
  [/^\/login$/, "./views/login.js", "mount", () => ({})],
  [/^\/settings$/, "./views/settings.js", "mount", () => ({})],
  [/^\/downloads$/, "./views/downloads.js", "mount", () => ({})],
];
const OPEN_ROUTES = ["/login", "/settings", "/downloads"];  // reachable without a gallery login

addStrings({ en: { "nav.timeline": "Timeline" }, "zh-CN": { "nav.timeline": "时间线" } });

const app = {
  status: null,
  settings: null,
  // With the admin token, the stream also carries the download center's events (the admin cookie, path
  // /api, opens it: an EventSource cannot send the Bearer header); it follows admin-changed.
  live: new LiveEvents({ url: () => (adminToken() ? "api/events?audience=admin" : "api/events") }),
  view: null,
  route: "",
  query: new URLSearchParams(),

  navigate(hash) {
    if (location.hash === hash) this.render();
    else location.hash = hash;
  },
  albumHash: (path) => (path ? `#/browse/${encodePath(path)}` : "#/"),
  resolve: (route) => resolve(route),  // share mode (share-mode.js) routes to the shared album or photo only
  timelineHash: (path) => (path ? `#/timeline/${encodePath(path)}` : "#/timeline"),
  readable() {
    const s = this.status;
    return !!s && (s.authenticated || !s.passwordEnabled || s.publicAccess);
  },
  // A gallery call needs a login: go to the login view once, remembering where the visitor was.
  goLogin(reason = null) {
    this.loginReason = reason;
    // The login page, settings and the download center stay put (the owner may just have turned the
    // password on); the next gallery page asks for the login.
    if (OPEN_ROUTES.includes(this.route) || location.hash.startsWith("#/login")) return;  // already on the way
    this.refreshStatus().catch(() => {});  // the chrome (logout button, title) follows the new state
    const next = location.hash || "#/";
    location.hash = `#/login?next=${encodeURIComponent(next)}`;
  },
  async refreshStatus() {
    const [status, settings] = await Promise.all([
      api("api/auth/status", { quiet: true }), api("api/settings", { quiet: true }),
    ]);
    this.status = status;
    this.settings = settings;
    this.updateChrome();
    return status;
  },
  afterLogin() {
    this.live.resume();
  },
  updateChrome() {
    const title = this.settings?.siteTitle || "Photonix";
    document.getElementById("site-title").textContent = title;
    document.title = title;
    const s = this.status || {};
    document.getElementById("nav-logout").hidden = !(s.passwordEnabled && s.authenticated && s.role === "viewer");
    document.getElementById("nav-login").hidden = !(s.passwordEnabled && !s.authenticated && this.route !== "/login");
    document.getElementById("nav-downloads").hidden = !adminToken();
    // Visitors see no way into what needs the admin secret unless the server has one, and then only in the footer.
    document.getElementById("nav-settings").hidden = this.settings?.adminSecretConfigured !== true;
    const searchable = this.readable() && this.route !== "/login";  // no search box a visitor cannot use
    document.getElementById("search-form").hidden = !searchable;
    document.getElementById("search-toggle").hidden = !searchable;
    const timeline = document.getElementById("nav-timeline");
    timeline.hidden = !this.readable();
    if (this.route.startsWith("/timeline")) timeline.setAttribute("aria-current", "page");
    else timeline.removeAttribute("aria-current");
  },
  renders: 0,
  async render() {
    const [route, query] = (location.hash.replace(/^#/, "") || "/").split("?");
    const ticket = ++this.renders;
    this.route = route;
    this.query = new URLSearchParams(query || "");
    if (this.view?.dispose) this.view.dispose();
    this.view = null;
    lightbox.close();
    const container = document.getElementById("view");
    container.replaceChildren();
    this.updateChrome();
    if (!OPEN_ROUTES.includes(route) && !this.readable()) {
      this.goLogin();
      return;
    }
    const [module, name, params] = this.resolve(route);
    let view = null;
    try {
      view = await import(module);
      if (ticket !== this.renders) return;  // the visitor moved on while the module loaded
      this.view = view[name](container, { ...params, query: this.query }, this) || null;
    } catch (error) {
      if (ticket !== this.renders) return;
      console.error("Photonix: the view failed to open", error);
      // A module that failed to load may stay failed in this page's module map: Retry reloads the page then.
      const retry = view ? () => this.render() : () => location.reload();
      this.view = { failed: true, onReconnect: retry };
      container.replaceChildren(failureNote(error, { retry }));
    }
  },
  // The event stream is back after a drop (the server restarted, the network returned): the chrome follows
  // the server's current state, and the view refreshes itself (a failed view retries).
  reconnected() {
    this.refreshStatus().catch(() => {}).finally(() => this.view?.onReconnect?.());
  },
};

function resolve(route) {
  for (const [pattern, module, name, params] of ROUTES) {
    const match = route.match(pattern);
    if (match) return [module, name, params(match)];
  }
  return [GALLERY, "mountAlbum", { path: "" }];
}

function decodePath(raw) {
  return raw.split("/").map(decodeURIComponent).join("/");
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) {
    if (event.key === "Escape") target.blur();
    return;
  }
  if (lightbox.isOpen() && lightbox.onKey(event)) return event.preventDefault();
  if (app.view?.onKey && app.view.onKey(event)) return event.preventDefault();
  const key = event.key.toLowerCase();
  if (key === "s") {
    openSearch();
    event.preventDefault();
  } else if (key === "h") {
    app.navigate("#/");
  } else if (key === "b") {
    document.body.classList.toggle("privacy-blur");
  } else if (key === "f") {
    toggleFullscreen(document.documentElement);
  }
}

export function toggleFullscreen(el) {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else el.requestFullscreen?.().catch(() => {});
}

// Phones show the search box only after its icon is tapped (app.css); it folds away when the focus leaves it.
function openSearch() {
  document.querySelector(".topbar").classList.add("searching");
  document.getElementById("search-toggle").setAttribute("aria-expanded", "true");
  document.getElementById("search-input").focus();
}

function wirePhoneSearch() {
  const form = document.getElementById("search-form");
  document.getElementById("search-toggle").addEventListener("click", openSearch);
  form.addEventListener("focusout", (event) => {
    if (form.contains(event.relatedTarget)) return;
    document.querySelector(".topbar").classList.remove("searching");
    document.getElementById("search-toggle").setAttribute("aria-expanded", "false");
  });
}

function wireChrome() {
  const select = document.getElementById("lang-select");
  select.value = language();
  select.addEventListener("change", () => {
    setLanguage(select.value, { save: true });
    app.render();
  });
  wireSearchBox(app);
  wirePhoneSearch();
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("search-input");
    const query = input.value.trim();
    if (query) app.navigate(`#/search/${encodeURIComponent(query)}`);
    input.blur();
  });
  document.getElementById("nav-logout").addEventListener("click", async () => {
    await api("api/auth/logout", { method: "POST" }).catch(() => {});
    clearAdminToken();
    await app.refreshStatus().catch(() => {});
    app.live.stop();
    if (app.readable()) app.live.start();
    app.render();
  });
  app.live.addEventListener("state", (event) => dotState(event.detail));
  let dropped = false;  // the stream was lost since it last opened
  app.live.addEventListener("state", ({ detail }) => {
    if (detail === "backoff") dropped = true;
    else if (detail === "open" && dropped) {
      dropped = false;
      app.reconnected();
    }
  });
  app.live.addEventListener("login-required", (event) => app.goLogin(event.detail));
  app.live.addEventListener("resync", () => app.render());
  followVideoEvents(app.live);  // "Preparing video…" in the lightbox follows the rendition's progress
  app.live.addEventListener("settings-changed", () => app.refreshStatus().catch(() => {}));
  app.live.addEventListener("auth-changed", async () => {
    await app.refreshStatus().catch(() => {});
    if (!app.readable() && !OPEN_ROUTES.includes(app.route)) app.goLogin();
  });
  session.addEventListener("login-required", (event) => app.goLogin(event.detail));
  session.addEventListener("admin-changed", () => {
    app.updateChrome();
    if (adminToken() || app.readable()) app.live.resume();  // reopen for the new audience
    else app.live.stop();
  });
  window.addEventListener("hashchange", () => app.render());
  document.addEventListener("keydown", onKey);
}

async function boot() {
  setLanguage(detectLanguage());
  wireChrome();
  dotState("stopped");  // the dot says so in words until the stream (or the login) tells more
  if (document.body.dataset.mode === "share") {  // /s/<token>: a share link's page
    const { startShareMode } = await import("./share-mode.js");
    await startShareMode(app);
    return;
  }
  try {
    await app.refreshStatus();
    // A share link's session cookie, left from a visit to a link, would answer for this browser: leave it.
    if (app.status.role === "share" && await leaveShareSession()) await app.refreshStatus();
  } catch {
    app.status = { passwordEnabled: false, authenticated: false, reason: null };
  }
  if (app.readable()) app.live.start();
  else if (AUTH_CODES.includes(app.status.reason)) dotState("login-required");
  app.render();
}

function dotState(state) {
  const dot = document.getElementById("live-dot");
  dot.dataset.state = state;
  dot.title = t(`live.${state}`);
  document.getElementById("live-dot-label").textContent = dot.title;  // the state as text, for screen readers
}

window.photonix = app;  // for the console and the browser tests
boot();
