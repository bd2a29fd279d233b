// Building blocks shared by the download center's forms and cards: a labelled field, a 400's message
// shown next to the input the server names in `field`, option lists, translated server values, safe
// links and a card's head with its Close button. Nothing here fetches or knows about tasks.

import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";

addStrings({
  en: {
    "dl.form.notNumber": "Enter a whole number.",
  },
  "zh-CN": {
    "dl.form.notNumber": "请输入整数。",
  },
});

export function field(name, label, input, hint) {
  return h("label", { class: "dl-field", "data-field": name },
    h("span", { class: "dl-label" }, label), input, hint ? h("small", { class: "dl-hint" }, hint) : null,
    h("small", { class: "dl-field-error", "data-error-for": name }));
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".dl-field-error")) el.textContent = "";
  const message = form.querySelector(".form-message");
  if (message) message.textContent = "";
}

// An API error next to the input named by its `field`, else in the form's message line.
export function showError(form, error) {
  const name = error.field || "";
  const input = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = error.message;
    input.focus();
    return;
  }
  const message = form.querySelector(".form-message");
  if (message) message.textContent = error.message;
}

// The error showError() puts next to a number input whose text is not a number.
export function notNumber(name) {
  return Object.assign(new Error(t("dl.form.notNumber")), { field: name });
}

// A server value's translation, or the value itself when this version has no name for it.
export function named(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

// "a, b,,c " → ["a", "b", "c"]
export function words(text) {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}

export function option(value, label, selected) {
  return h("option", { value, selected: selected === value }, label);
}

// A link only for http(s) URLs: a feed's value never becomes a javascript: href.
export function httpLink(url, text) {
  return /^https?:\/\//i.test(url || "")
    ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", title: url }, text)
    : h("span", { title: url || "" }, text);
}

// The head of a card shown in the detail area above the tasks table.
export function cardHead(title, onClose) {
  return h("div", { class: "dl-card-head" }, h("h2", {}, title),
    h("button", { class: "button ghost dl-close", type: "button", onclick: onClose }, t("common.close")));
}
