// Dates in the reader's locale: a photo's own wall-clock time as taken (never shifted to the reader's time
// zone), month names for the timeline, and the browser's local date for "on this day".
//
//   formatTaken("2024-07-14T18:03:05+02:00")  // "Sunday, July 14, 2024 at 6:03 PM" (and the offset apart)
//   monthTitle(2024, 7)                        // "July 2024" / "2024年7月"

import { language } from "./i18n.js";

const TAKEN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

// The browser's own variant of the interface language (en-GB, zh-TW…), else the interface language itself.
export function locale() {
  const ui = language();
  const primary = ui.split("-")[0];
  const preferred = (navigator.languages || []).find((tag) => tag.split("-")[0].toLowerCase() === primary);
  return preferred && primary !== "zh" ? preferred : ui;
}

// takenAt → {text, offset}: the local part formatted as a UTC date (so no time zone shifts it), and the
// offset as "UTC+02:00" when the photo recorded one. Null for nothing or an unreadable value.
export function formatTaken(takenAt) {
  const match = TAKEN.exec(takenAt || "");
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part || 0));
  const wallClock = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const text = new Intl.DateTimeFormat(locale(), { dateStyle: "full", timeStyle: "short", timeZone: "UTC" })
    .format(wallClock);
  const zone = match[7];
  const offset = !zone ? "" : zone === "Z" ? "UTC" : `UTC${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return { text, offset };
}

export function monthTitle(year, month) {
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "long", timeZone: "UTC" })
    .format(new Date(Date.UTC(year, month - 1, 1)));
}

export function shortMonth(month) {
  return new Intl.DateTimeFormat(locale(), { month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(2000, month - 1, 1)));
}

// Today in the browser's time zone as YYYY-MM-DD.
export function localDate(now = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
