// The lightbox's previews (GET /api/preview, a WebP of at most PHOTONIX_PREVIEW_SIZE px), fetched so that a
// 202 (being made) is seen and retried after its Retry-After, kept as object URLs for the photo on screen and
// its neighbours only, and dropped (request aborted, URL revoked) once the viewer has moved away.
//
//   const previews = new Previews({ onChange: (path, state) => {} });
//   const url = await previews.get(item);   // an object URL, or null when the server has none (failed)
//   previews.keep([item.path, next.path]);   // forget everything else

const MAX_TRIES = 30;
const MAX_RETRY_S = 30;
const NETWORK_RETRY_S = 5;

export class Previews {
  constructor({ onChange = () => {} } = {}) {
    this.entries = new Map();  // path → { controller, promise, url, state, timer }
    this.onChange = onChange;
  }

  /** The preview of a photo item with a previewUrl, as a promise of an object URL (null: none to show);
   *  `priority` "high" for the photo on screen, "low" for a neighbour fetched ahead. */
  get(item, { priority = "low" } = {}) {
    let entry = this.entries.get(item.path);
    if (!entry) {
      entry = { controller: new AbortController(), url: null, state: "loading", timer: null, path: item.path };
      entry.promise = this.load(item.previewUrl, entry, priority);
      this.entries.set(item.path, entry);
    }
    return entry.promise;
  }

  /** "loading", "busy" (the server is making it), "ready", "broken" (the server could not read the photo),
   *  "failed" (anything else), or undefined when never asked for. */
  state(path) {
    return this.entries.get(path)?.state;
  }

  keep(paths) {
    const wanted = new Set(paths);
    for (const [path, entry] of this.entries) {
      if (wanted.has(path)) continue;
      drop(entry);
      this.entries.delete(path);
    }
  }

  dispose() {
    this.keep([]);
  }

  set(entry, state) {
    entry.state = state;
    this.onChange(entry.path, state);
  }

  async load(url, entry, priority) {
    const { signal } = entry.controller;
    for (let tries = 1; tries <= MAX_TRIES && !signal.aborted; tries += 1) {
      let response;
      try {
        response = await fetch(url, { credentials: "same-origin", priority, signal });
      } catch {
        if (signal.aborted) return null;
        this.set(entry, "busy");
        await wait(NETWORK_RETRY_S, entry);
        continue;
      }
      if (response.status === 202) {  // being made: keep the thumbnail on screen and ask again when told
        this.set(entry, "busy");
        response.body?.cancel().catch(() => {});
        await wait(Number(response.headers.get("Retry-After")) || 2, entry);
        continue;
      }
      if (response.headers.get("X-Thumb-Status") === "failed") {  // a broken file: the original would not do better
        this.set(entry, "broken");
        return null;
      }
      const blob = response.ok ? await response.blob().catch(() => null) : null;
      if (!blob || signal.aborted) break;
      entry.url = URL.createObjectURL(blob);
      this.set(entry, "ready");
      return entry.url;
    }
    if (!signal.aborted) this.set(entry, "failed");
    return null;
  }
}

function wait(seconds, entry) {
  return new Promise((resolve) => {
    entry.timer = setTimeout(resolve, Math.min(Math.max(seconds, 0), MAX_RETRY_S) * 1000);
    entry.controller.signal.addEventListener("abort", () => { clearTimeout(entry.timer); resolve(); }, { once: true });
  });
}

function drop(entry) {
  entry.controller.abort();
  clearTimeout(entry.timer);
  if (entry.url) URL.revokeObjectURL(entry.url);
  entry.state = "dropped";
}
