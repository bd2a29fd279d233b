// One way to call the JSON API: relative URLs (so a sub-path prefix just works), the CSRF header on
// unsafe cookie-authenticated requests, the short admin token as a Bearer header for admin calls, one
// silent refresh of an expired login, and every error shown as a toast in the reader's language (error-words.js).
//
//   const page = await api(`api/browse/${encodePath(path)}?page=2`);
//   await api("api/settings", { method: "PUT", body: { siteTitle }, admin: true });
//   session.addEventListener("login-required", showLogin);  // a gallery call needs a login
//   session.addEventListener("admin-required", askSecret);  // the admin token is missing or expired
//   session.addEventListener("share-ended", showEnded);     // share mode: the link was revoked or expired

import { describeError } from "./error-words.js";
import { t } from "./i18n.js";
import { toast } from "./toast.js";

export const session = new EventTarget();
export const AUTH_CODES = ["AUTH_REQUIRED", "TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED", "CSRF_FAILED"];
export const SHARE_ENDED_CODES = ["SHARE_REVOKED", "SHARE_EXPIRED"];  // 401: the share link of this session ended
const ADMIN_CODES = ["ADMIN_REQUIRED", ...AUTH_CODES];
const UNSAFE = ["POST", "PUT", "PATCH", "DELETE"];
const ADMIN_KEY = "photonix.adminToken";
const ADMIN_MARGIN_MS = 5000;
let refreshing = null;
let shareToken = null;  // share mode (share-mode.js): every call carries the link's session token
let leaving = null;  // the main gallery dropped a share session cookie left in this browser (once a page)

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError({ status, body }));  // in the reader's language; body.message keeps the server's words
    Object.assign(this, { status, body, code: body.code || `HTTP_${status}`, field: body.field });
  }
}

export class AdminNeeded extends Error {}

export async function api(path, { method = "GET", body, admin = false, quiet = false, raw = false, signal } = {}) {
  try {
    let response = await send(path, { method, body, admin, signal });
    if (response.status === 401 && !admin && await refreshedAfter(response.clone())) {
      response = await send(path, { method, body, admin, signal });
    } else if (!response.ok && !admin && await leftShareSession(response.clone())) {
      response = await send(path, { method, body, admin, signal });
    }
    if (!response.ok) throw new ApiError(response.status, await errorBody(response));
    if (raw) return response;
    if (response.status === 204) return null;
    return (response.headers.get("Content-Type") || "").includes("json") ? response.json() : response.text();
  } catch (error) {
    report(error, { admin, quiet });
    throw error;
  }
}

function send(path, { method, body, admin, signal }) {
  const headers = { Accept: "application/json" };
  if (admin) {
    const token = adminToken();
    if (!token) throw new AdminNeeded();
    headers.Authorization = `Bearer ${token}`;
  } else if (shareToken) {
    headers.Authorization = `Bearer ${shareToken}`;  // a Bearer token needs no CSRF header
  } else if (UNSAFE.includes(method)) {
    const csrf = cookie(path.startsWith("api/auth/refresh") ? "csrf_refresh_token" : "csrf_access_token");
    if (csrf) headers["X-CSRF-TOKEN"] = csrf;
  }
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (body === undefined && UNSAFE.includes(method)) {
    // A bodiless change says JSON too: the server refuses other bodies, and a browser never sends this
    // header cross-site without asking first (CORS preflight).
    headers["Content-Type"] = "application/json";
  }
  return fetch(path, { method, body: payload, headers, credentials: "same-origin", cache: "no-store", signal });
}

// An expired login with a refresh cookie: get a new access token once, shared by concurrent callers.
async function refreshedAfter(response) {
  const body = await errorBody(response);
  if (body.code !== "TOKEN_EXPIRED" || !cookie("csrf_refresh_token")) return false;
  refreshing ||= send("api/auth/refresh", { method: "POST" })
    .then((r) => r.ok, () => false)
    .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  return refreshing;
}

/** Share mode: send the link's session token (the open answer's accessToken) with every call. */
export function setShareToken(token) {
  shareToken = token;
}

/** Leave a share session: the server clears its cookie (DELETE /api/share/session); true when it did. */
export function leaveShareSession() {
  leaving ||= send("api/share/session", { method: "DELETE" }).then((r) => r.ok, () => false);
  return leaving;
}

// The main gallery, answered for a share link's session that this browser still holds (its cookie rides along
// with every /api call): 403 SHARE_SCOPE or 401 SHARE_REVOKED / SHARE_EXPIRED. Drop that session once, then ask again.
async function leftShareSession(response) {
  if (shareToken || document.body?.dataset.mode === "share") return false;
  const body = await errorBody(response);
  if (body.code !== "SHARE_SCOPE" && !SHARE_ENDED_CODES.includes(body.code)) return false;
  return leaveShareSession();
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

function report(error, { admin, quiet }) {
  if (error instanceof AdminNeeded) {
    session.dispatchEvent(new CustomEvent("admin-required"));
    return;
  }
  if (error.name === "AbortError") return;
  if (!(error instanceof ApiError)) {
    if (!quiet) toast(t("error.network"), "error");
    return;
  }
  if (admin && ADMIN_CODES.includes(error.code) && error.status !== 429) {
    clearAdminToken();
    session.dispatchEvent(new CustomEvent("admin-required", { detail: error.code }));
  } else if (!admin && error.status === 401 && SHARE_ENDED_CODES.includes(error.code)) {
    session.dispatchEvent(new CustomEvent("share-ended", { detail: error.code }));
    return;  // share mode says so on the page (share-mode.js)
  } else if (!admin && error.status === 401 && AUTH_CODES.includes(error.code)) {
    session.dispatchEvent(new CustomEvent("login-required", { detail: error.code }));
    return;  // the login view says why; no toast storm from every pending request
  }
  if (!quiet) toast(error.message, "error");
}

export function adminToken() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(ADMIN_KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token || saved.expiresAt * 1000 < Date.now() + ADMIN_MARGIN_MS) {
    sessionStorage.removeItem(ADMIN_KEY);
    return null;
  }
  return saved.token;
}

export function setAdminToken(token, expiresAt) {
  sessionStorage.setItem(ADMIN_KEY, JSON.stringify({ token, expiresAt }));
  session.dispatchEvent(new CustomEvent("admin-changed", { detail: true }));
}

export function clearAdminToken() {
  const had = sessionStorage.getItem(ADMIN_KEY) !== null;
  sessionStorage.removeItem(ADMIN_KEY);
  if (had) session.dispatchEvent(new CustomEvent("admin-changed", { detail: false }));
}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}
