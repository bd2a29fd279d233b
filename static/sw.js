// The service worker: keeps the app's shell (the page and its versioned static files) so the gallery starts at
// once and opens offline. It answers for nothing else: /api (JSON, the event stream, thumbnails, originals,
// login and logout) is never intercepted, so it always reaches the server and nothing private is ever stored.
// The server prepends self.PHOTONIX_SHELL = {version, urls} (blueprints/pages.py), URLs relative to this script.

const SHELL = self.PHOTONIX_SHELL || { version: "dev", urls: [] };
const PREFIX = "photonix-shell-";
const CACHE = PREFIX + SHELL.version;
const ROOT = new URL("./", self.location.href);  // the app's root: this script's folder, and its scope
const PAGE = ROOT.href;
const STATIC = new URL("static/", ROOT).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL.urls)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key.startsWith(PREFIX) && key !== CACHE)
      .map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== ROOT.origin) return;
  if (request.mode === "navigate" && url.pathname === ROOT.pathname) event.respondWith(pageFirstFromNetwork(request));
  else if (url.pathname.startsWith(STATIC) && url.searchParams.has("v")) event.respondWith(versionedFromCache(request));
  // Anything else, /api above all, is left to the browser: no respondWith, no cache.
});

// The page from the server whenever it answers (it carries the current versions); the kept copy offline.
async function pageFirstFromNetwork(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(PAGE, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(PAGE);
    if (kept) return kept;
    throw error;
  }
}

// A versioned URL names one content forever: the kept copy when there is one, else the network's, then kept.
async function versionedFromCache(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}
