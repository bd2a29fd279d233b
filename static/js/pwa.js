// Installs the service worker (sw.js at the app's root, so its scope is the whole app) once the page has loaded,
// so it never competes with the first view's requests. Browsers allow it only on https and on localhost.

if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("sw.js", { scope: "./", updateViaCache: "none" })
      .catch((error) => console.warn("Photonix: no offline shell:", error.message));
  });
}
