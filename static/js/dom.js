// Tiny DOM helpers: h() builds elements without innerHTML (names from the gallery are never parsed as HTML).
//
//   h("a", { href: "#/", class: "crumb", onclick: go }, "Home")

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// "/"-separated gallery path → URL path with each segment encoded ("a b/c#1" → "a%20b/c%231").
export function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

// Seconds since 1970 → a local date and time, or "" for nothing.
export function formatTime(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toLocaleString();
}

/** A form's refusal: the named field marked aria-invalid and focused (when there is one), the text in `message`. */
export function showInvalid(form, message, field, text) {
  const input = field && form.querySelector(`[name="${field}"]`);
  input?.setAttribute("aria-invalid", "true");
  input?.focus();
  message.textContent = text;
}
