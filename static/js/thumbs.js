// Lazy thumbnails that follow the viewport. A tile within NEAR of the screen waits for one of MAX_IN_FLIGHT
// slots; a free slot goes to the waiting tile nearest the screen (top to bottom among those on it), so after a
// fling the tiles in view load first. A tile that moves farther than NEAR away leaves the queue, and its load,
// if running, is aborted (fetch + AbortController: the answer still goes through the HTTP cache) and starts
// again when it comes back; a load off the screen also gives way to a tile on it waiting for a slot. A 202 from a busy server shows its placeholder and retries after Retry-After, or at
// once when the server says the thumbnail is ready (`thumbnail-generated`); a failed one is not retried.
//
//   const thumbs = new ThumbLoader(app.live, { onAuth: () => app.goLogin() });
//   thumbs.observe(img, item.thumbnailUrl, item.path);   // later: thumbs.dispose()

import { viewTop } from "./layout.js";

const MAX_IN_FLIGHT = 4;  // leaves the browser's other connections to the page's API calls and event stream
const MAX_RETRIES = 30;
const MAX_RETRY_S = 30;
const NETWORK_RETRY_S = 5;
const NEAR = "400px 0px";

export class ThumbLoader {
  constructor(live, { onAuth = () => {} } = {}) {
    this.live = live;
    this.onAuth = onAuth;
    this.near = new Set();     // tiles within NEAR of the screen now
    this.queue = new Set();    // near tiles waiting for a slot
    this.running = new Map();  // img → AbortController of its load
    this.waiting = new Map();  // path → [img] waiting for a retry
    this.timers = new Set();
    this.disposed = false;
    this.observer = new IntersectionObserver((entries) => this.visible(entries), { rootMargin: NEAR });
    this.onGenerated = (event) => this.ready(event.detail?.path);
    live?.addEventListener("thumbnail-generated", this.onGenerated);
    this.frame = 0;  // a scroll moves tiles on or off the screen without crossing NEAR: look again once a frame
    this.onScroll = () => { this.frame ||= requestAnimationFrame(() => { this.frame = 0; this.pump(); }); };
    addEventListener("scroll", this.onScroll, { passive: true });
  }

  observe(img, url, path) {
    img.dataset.src = url;
    img.dataset.path = path;
    img.classList.add("thumb");
    this.observer.observe(img);
  }

  visible(entries) {
    for (const { target: img, isIntersecting } of entries) {
      if (isIntersecting) {
        this.near.add(img);
        if (needsLoad(img)) this.queue.add(img);
      } else {
        this.near.delete(img);
        this.queue.delete(img);
        this.running.get(img)?.abort();  // scrolled far away: its slot goes to a tile in view
      }
    }
    this.pump();
  }

  pump() {
    while (!this.disposed && this.running.size < MAX_IN_FLIGHT && this.queue.size) {
      const img = this.nearest();
      this.queue.delete(img);
      if (!img.isConnected || this.running.has(img)) continue;
      const controller = new AbortController();
      this.running.set(img, controller);
      this.load(img, controller.signal).finally(() => {
        this.running.delete(img);
        if (this.near.has(img) && needsLoad(img)) this.queue.add(img);  // gave way to a tile on the screen
        this.pump();
      });
    }
    if (this.queue.size) this.preempt();
  }

  // The queued tile to load next: the one nearest the screen; among those on it, the one highest up.
  nearest() {
    const top = viewTop();
    let best = null;
    let bestKey = [Infinity, Infinity];
    for (const img of this.queue) {
      const key = [distance(img, top), img.getBoundingClientRect().top];
      if (key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) [best, bestKey] = [img, key];
    }
    return best;
  }

  // Every slot is taken and a tile on the screen waits: the load farthest off the screen gives way to it.
  preempt() {
    const top = viewTop();
    const waiting = this.nearest();
    if (!waiting || distance(waiting, top) > 0) return;
    let far = null;
    let farthest = 0;
    for (const img of this.running.keys()) {
      const away = distance(img, top);
      if (away > farthest) [far, farthest] = [img, away];
    }
    if (far) this.running.get(far).abort();
  }

  async load(img, signal) {
    let response;
    let blob;
    try {
      response = await fetch(img.dataset.src, { credentials: "same-origin", signal });
      if (response.status === 401) {
        this.onAuth();
        return;
      }
      blob = await response.blob();
    } catch {
      if (!signal.aborted) this.retryLater(img, NETWORK_RETRY_S);  // aborted: loads again when near again
      return;
    }
    if (this.disposed) return;
    if (response.status === 200) {
      this.done(img, blob, "loaded");
    } else if (response.status === 202) {
      show(img, blob, "placeholder");
      this.retryLater(img, Number(response.headers.get("Retry-After")) || 2);
    } else {
      this.done(img, blob, "failed");  // the server remembers the failure; so do we
    }
  }

  done(img, blob, state) {
    show(img, blob, state);
    this.observer.unobserve(img);
    this.near.delete(img);
  }

  retryLater(img, seconds) {
    const tries = Number(img.dataset.tries || 0) + 1;
    img.dataset.tries = String(tries);
    if (tries > MAX_RETRIES) return;
    img.dataset.waiting = "";
    const path = img.dataset.path;
    const list = this.waiting.get(path) || [];
    list.push(img);
    this.waiting.set(path, list);
    const timer = setTimeout(() => { this.timers.delete(timer); this.ready(path); }, Math.min(seconds, MAX_RETRY_S) * 1000);
    this.timers.add(timer);
  }

  // The thumbnail for this path should exist now: load every image still waiting for it, when it is near.
  ready(path) {
    const list = this.waiting.get(path);
    if (!list) return;
    this.waiting.delete(path);
    for (const img of list) {
      delete img.dataset.waiting;
      if (img.isConnected && this.near.has(img)) this.queue.add(img);
    }
    this.pump();
  }

  dispose() {
    this.disposed = true;
    this.observer.disconnect();
    for (const timer of this.timers) clearTimeout(timer);
    for (const controller of this.running.values()) controller.abort();
    this.live?.removeEventListener("thumbnail-generated", this.onGenerated);
    removeEventListener("scroll", this.onScroll);
    cancelAnimationFrame(this.frame);
    this.queue.clear();
    this.near.clear();
    this.waiting.clear();
  }
}

// How far the image is from the visible part of the screen (below the top bar), in px; 0 when any of it shows.
function distance(img, top) {
  const box = img.getBoundingClientRect();
  return box.top > innerHeight ? box.top - innerHeight : Math.max(0, top - box.bottom);
}

// Not loaded yet, or a 202's placeholder whose retry is due (not one still waiting for its Retry-After).
function needsLoad(img) {
  return !("waiting" in img.dataset) && (!img.dataset.state || img.dataset.state === "placeholder");
}

function show(img, blob, state) {
  const url = URL.createObjectURL(blob);
  img.onload = img.onerror = () => URL.revokeObjectURL(url);
  img.src = url;
  img.classList.remove("loaded", "placeholder", "failed");
  img.classList.add(state);
  img.dataset.state = state;
}
