// Lazy thumbnails: fetched when near the viewport (IntersectionObserver), a few at a time. A 202 from
// a busy server shows its placeholder and retries after Retry-After, or at once when the server says
// the thumbnail is ready (`thumbnail-generated`); a failed one keeps its placeholder and is not retried.
//
//   const thumbs = new ThumbLoader(app.live, { onAuth: () => app.goLogin() });
//   thumbs.observe(img, item.thumbnailUrl, item.path);   // later: thumbs.dispose()

const MAX_IN_FLIGHT = 6;
const MAX_RETRIES = 30;
const MAX_RETRY_S = 30;
const MARGIN = "600px 0px";

export class ThumbLoader {
  constructor(live, { onAuth = () => {} } = {}) {
    this.live = live;
    this.onAuth = onAuth;
    this.queue = [];
    this.inFlight = 0;
    this.waiting = new Map();  // path → [img] waiting for a retry
    this.timers = new Set();
    this.disposed = false;
    this.observer = new IntersectionObserver((entries) => this.visible(entries), { rootMargin: MARGIN });
    this.onGenerated = (event) => this.ready(event.detail?.path);
    live?.addEventListener("thumbnail-generated", this.onGenerated);
  }

  observe(img, url, path) {
    img.dataset.src = url;
    img.dataset.path = path;
    img.classList.add("thumb");
    this.observer.observe(img);
  }

  visible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.observer.unobserve(entry.target);
      this.enqueue(entry.target);
    }
  }

  enqueue(img) {
    this.queue.push(img);
    this.pump();
  }

  pump() {
    while (!this.disposed && this.inFlight < MAX_IN_FLIGHT && this.queue.length) {
      const img = this.queue.shift();
      if (!img.isConnected) continue;
      this.inFlight += 1;
      this.load(img).finally(() => { this.inFlight -= 1; this.pump(); });
    }
  }

  async load(img) {
    let response;
    try {
      response = await fetch(img.dataset.src, { credentials: "same-origin" });
    } catch {
      this.retryLater(img, 5);
      return;
    }
    if (this.disposed) return;
    if (response.status === 401) {
      this.onAuth();
      return;
    }
    const blob = await response.blob().catch(() => null);
    if (!blob || this.disposed) return;
    if (response.status === 200) {
      show(img, blob, "loaded");
    } else if (response.status === 202) {
      show(img, blob, "placeholder");
      this.retryLater(img, Number(response.headers.get("Retry-After")) || 2);
    } else {
      show(img, blob, "failed");  // the server remembers the failure; so do we
    }
  }

  retryLater(img, seconds) {
    const tries = Number(img.dataset.tries || 0) + 1;
    img.dataset.tries = String(tries);
    if (tries > MAX_RETRIES) return;
    const path = img.dataset.path;
    const list = this.waiting.get(path) || [];
    list.push(img);
    this.waiting.set(path, list);
    const timer = setTimeout(() => { this.timers.delete(timer); this.ready(path); }, Math.min(seconds, MAX_RETRY_S) * 1000);
    this.timers.add(timer);
  }

  // The thumbnail for this path should exist now: load every image still waiting for it.
  ready(path) {
    const list = this.waiting.get(path);
    if (!list) return;
    this.waiting.delete(path);
    for (const img of list) if (img.isConnected) this.enqueue(img);
  }

  dispose() {
    this.disposed = true;
    this.observer.disconnect();
    for (const timer of this.timers) clearTimeout(timer);
    this.live?.removeEventListener("thumbnail-generated", this.onGenerated);
    this.queue = [];
    this.waiting.clear();
  }
}

function show(img, blob, state) {
  const url = URL.createObjectURL(blob);
  img.onload = img.onerror = () => URL.revokeObjectURL(url);
  img.src = url;
  img.classList.remove("loaded", "placeholder", "failed");
  img.classList.add(state);
  img.dataset.state = state;
}
