// Live updates for the page: one EventSource at a time, resumed from the last event id, with
// exponential backoff and jitter (1 s → 60 s) on errors, and no reconnecting while login is needed.
//
//   const live = new LiveEvents();                                           // or { url: () => "api/events?…" }, read at each connect
//   live.addEventListener("thumbnail-generated", (e) => refresh(e.detail.path));
//   live.addEventListener("state", (e) => dot.dataset.state = e.detail);   // connecting|open|backoff|login-required|stopped
//   live.addEventListener("login-required", showLogin);                      // then, after login: live.resume()
//   live.start();

export const EVENT_TYPES = [
  "thumbnail-generated", "thumbnail-progress", "thumbnail-batch-complete", "index-progress", "index-complete",
  "download-progress", "download-complete", "download-error", "settings-changed", "auth-changed", "album-changed",
  "video-progress", "video-ready", "video-failed",
];
const AUTH_REASONS = ["AUTH_REQUIRED", "TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED", "CSRF_FAILED"];

export class LiveEvents extends EventTarget {
  constructor({
    url = "api/events", statusUrl = "api/auth/status", minDelayMs = 1000, maxDelayMs = 60000,
    refresh = null, random = Math.random, EventSourceImpl = globalThis.EventSource,
    fetchImpl = (...args) => globalThis.fetch(...args),  // unbound window.fetch throws "Illegal invocation"
  } = {}) {
    super();
    Object.assign(this, { url, statusUrl, minDelayMs, maxDelayMs, refresh, random, EventSourceImpl, fetchImpl });
    this.lastEventId = "";
    this.attempts = 0;
    this.state = "stopped";
    this.source = null;
    this.timer = null;
    this.checking = false;
  }

  start() {
    if (this.state === "stopped") this.connect();
  }

  stop() {
    this.closeSource();
    this.setState("stopped");
  }

  // After a login: reconnect now, with a fresh backoff.
  resume() {
    this.attempts = 0;
    this.closeSource();
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const url = typeof this.url === "function" ? this.url() : this.url;
    const query = this.lastEventId ? `${url.includes("?") ? "&" : "?"}lastEventId=${encodeURIComponent(this.lastEventId)}` : "";
    const source = new this.EventSourceImpl(url + query, { withCredentials: true });
    this.source = source;
    this.setState("connecting");
    source.onopen = () => { this.attempts = 0; this.setState("open"); };
    source.onerror = () => { if (this.source === source) this.lost(); };
    source.addEventListener("connected", (e) => this.remember(e));
    source.addEventListener("resync", (e) => { this.remember(e); this.emit("resync", e); });
    source.addEventListener("auth-expired", (e) => { if (this.source === source) this.lost(); });
    for (const type of EVENT_TYPES) source.addEventListener(type, (e) => { this.remember(e); this.emit(type, e); });
  }

  remember(event) {
    if (event.lastEventId) this.lastEventId = event.lastEventId;
  }

  emit(type, event) {
    let detail = null;
    try { detail = JSON.parse(event.data); } catch { detail = event.data; }
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // The stream failed or the server ended it: find out whether a login is needed before retrying.
  async lost() {
    this.closeSource();
    if (this.checking || this.state === "stopped" || this.state === "login-required") return;
    this.checking = true;
    try {
      const reason = await this.authProblem();
      if (reason && !(this.refresh && await this.refresh())) {
        this.setState("login-required");
        this.dispatchEvent(new CustomEvent("login-required", { detail: reason }));
        return;
      }
      if (reason) { this.resume(); return; }  // refreshed: reconnect at once
      this.backoff();
    } finally {
      this.checking = false;
    }
  }

  async authProblem() {
    try {
      const response = await this.fetchImpl(this.statusUrl, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return null;  // the server is in trouble, not the login: back off
      const status = await response.json();
      // A stale token does not matter while anyone may read the gallery: reconnect without it mattering.
      const readable = status.authenticated || !status.passwordEnabled || status.publicAccess;
      return !readable && AUTH_REASONS.includes(status.reason) ? status.reason : null;
    } catch {
      return null;  // offline or restarting: back off
    }
  }

  backoff() {
    const ceiling = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempts);
    const delay = ceiling / 2 + this.random() * ceiling / 2;  // "equal jitter": never a synchronized storm
    this.attempts += 1;
    this.setState("backoff");
    this.timer = setTimeout(() => this.connect(), delay);
    return delay;
  }

  closeSource() {
    if (this.source) this.source.close();
    this.source = null;
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }
}
