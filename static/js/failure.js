// What a view shows in place of its content when loading it failed: what went wrong, in the reader's language,
// a Retry button, and for a missing album a link up to its parent. The view keeps its own frame (toolbar,
// breadcrumbs) around it; app.js retries a failed view by itself when the event stream comes back.
//
//   const note = failureNote(error, { retry: () => load(), up: { href: "#/", name: "Home" } });
//   container.append(note);

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  en: {
    "failure.title": "This page could not be loaded.", "failure.retry": "Retry",
    "failure.missing": "This album does not exist. It may have been moved, renamed or deleted.",
    "failure.up": "Go up to {name}", "failure.more": "More items could not be loaded.",
  },
  "zh-CN": {
    "failure.title": "无法加载此页面。", "failure.retry": "重试",
    "failure.missing": "这个相册不存在，可能已被移动、改名或删除。",
    "failure.up": "返回上一级：{name}", "failure.more": "无法加载更多项目。",
  },
});

/** True when `error` (an ApiError or a network failure) says the thing asked for is not there. */
export function isMissing(error) {
  return error?.status === 404;
}

/**
 * The note for a failed load: `error` from api() (its message is already in the UI language), `retry()` run by
 * the Retry button, `up` ({href, name}) offered when the thing is missing, `title` the first line.
 */
export function failureNote(error, { retry, up = null, title = t("failure.title") } = {}) {
  const missing = isMissing(error) && up;
  const detail = missing ? t("failure.missing") : (error?.status ? error.message : t("error.network"));
  return h("div", { class: "failure", id: "failure", role: "alert", "data-status": error?.status ?? "network" },
    missing ? null : h("p", { class: "failure-title" }, title),
    h("p", { class: "failure-message" }, detail),
    h("div", { class: "failure-actions" },
      missing ? h("a", { class: "button primary", id: "failure-up", href: up.href }, t("failure.up", { name: up.name })) : null,
      retry ? h("button", { class: missing ? "button" : "button primary", type: "button", id: "failure-retry",
        onclick: retry }, t("failure.retry")) : null));
}
