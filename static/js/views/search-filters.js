// Search filters (`year:2024 camera:canon beach`): the parser the search box and the results share, the
// removable chips, suggestions as you type (filter names, then the years, cameras, lenses and types that
// exist, from GET /api/search/filters), the hint listing every filter, and a 400's message in the UI language.
//
//   wireSearchBox(app);                                   // once, at boot
//   filterChips(query, (rest) => app.navigate(...));      // the results page's chips
//   describeSearchError(error, query)                     // "Unknown filter foo…" in the reader's language

import { api } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";

const FILTERS = [
  { name: "year", example: "year:2024" }, { name: "month", example: "month:2024-07" },
  { name: "before", example: "before:2024-07-01" }, { name: "after", example: "after:2024-07-01" },
  { name: "camera", example: "camera:canon" }, { name: "lens", example: "lens:50mm" },
  { name: "type", example: "type:photo" }, { name: "album", example: "album:trip" },
];
const VALUES = { year: "years", before: "years", after: "years", camera: "cameras", lens: "lenses", type: "types" };
const VALID = {
  year: /^\d{4}$/, month: /^\d{4}-(0[1-9]|1[0-2])$/, type: /^(photo|video)$/i,
  before: /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/, after: /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$/,
};
const MAX_SUGGESTIONS = 8;
const FRESH_MS = 60_000;
// A word, a "quoted phrase", or name:value / name:"quoted value" (letters only before the colon, as the server).
const TOKEN = /([A-Za-z]+):(?:"([^"]*)"?|(\S*))|"[^"]*"?|\S+/g;

addStrings({
  en: {
    "search.filters": "Filters", "search.removeFilter": "Remove filter {filter}", "search.suggestions": "Suggestions",
    "search.hint": "Filters: {list}. Quote values with spaces: camera:\"EOS R5\".",
    "search.unknownFilter": "Unknown filter {name}: — filters are {filters}. Put text with a colon in quotes to search for it.",
    "search.badValue": "“{value}” is not a valid value for {name}: (for example {example}).",
    "search.needsValue": "The filter {name}: needs a value, for example {example}.",
    "search.typePhoto": "photo", "search.typeVideo": "video",
  },
  "zh-CN": {
    "search.filters": "筛选条件", "search.removeFilter": "移除筛选条件 {filter}", "search.suggestions": "建议",
    "search.hint": "筛选条件：{list}。含空格的值请加引号：camera:\"EOS R5\"。",
    "search.unknownFilter": "未知的筛选条件 {name}:，可用的有 {filters}。要搜索含冒号的文字，请给它加上引号。",
    "search.badValue": "“{value}”不是 {name}: 的有效值（例如 {example}）。",
    "search.needsValue": "筛选条件 {name}: 需要一个值，例如 {example}。",
    "search.typePhoto": "照片", "search.typeVideo": "视频",
  },
});

// {filters: [{name, value, label, start, end, known}], text}: every name:value in order, and the words left.
export function parseQuery(query) {
  const filters = [];
  const words = [];
  for (const match of query.matchAll(TOKEN)) {
    const [raw, name, quoted, plain] = match;
    if (name === undefined) { words.push(raw); continue; }
    const value = quoted ?? plain;
    filters.push({ name: name.toLowerCase(), value, label: `${name.toLowerCase()}:${quote(value)}`,
      start: match.index, end: match.index + raw.length, known: FILTERS.some((f) => f.name === name.toLowerCase()) });
  }
  return { filters, text: words.join(" ") };
}

// The query without one of its filters, spaces tidied.
export function withoutFilter(query, filter) {
  return `${query.slice(0, filter.start)} ${query.slice(filter.end)}`.replace(/\s+/g, " ").trim();
}

function quote(value) {
  return /\s/.test(value) ? `"${value}"` : value;
}

// `complete`: only filters with a value (while typing, "year:" is not a filter yet).
export function filterChips(query, onRemove, { complete = false } = {}) {
  const filters = parseQuery(query).filters.filter((filter) => !complete || filter.value);
  return h("ul", { class: "chips", "aria-label": t("search.filters"), hidden: filters.length === 0 },
    filters.map((filter) => h("li", { class: "chip", dataset: { filter: filter.name, value: filter.value } },
      h("span", {}, filter.label),
      h("button", { type: "button", class: "chip-remove", "aria-label": t("search.removeFilter", { filter: filter.label }),
        title: t("search.removeFilter", { filter: filter.label }), onclick: () => onRemove(withoutFilter(query, filter)) }, "×"))));
}

// A refused search in the reader's language when the browser can tell why; else the server's own message.
export function describeSearchError(error, query) {
  if (!error?.status) return "";  // no answer at all: the caller says the server could not be reached
  if (error.status !== 400) return error.message;
  const { filters } = parseQuery(query);
  const unknown = filters.find((filter) => !filter.known);
  if (unknown) return t("search.unknownFilter", { name: unknown.name, filters: FILTERS.map((f) => f.name).join(", ") });
  const bad = filters.find((filter) => !filter.value || (VALID[filter.name] && !VALID[filter.name].test(filter.value)));
  if (!bad) return error.message;
  const example = FILTERS.find((f) => f.name === bad.name).example;
  return t(bad.value ? "search.badValue" : "search.needsValue", { name: bad.name, value: bad.value, example });
}

// The top bar's search box: chips of the filters typed so far, suggestions, and the hint, under the input.
export function wireSearchBox(app) {
  const input = document.getElementById("search-input");
  const box = new SearchAssist(app, input);
  input.closest("form").append(box.element);
  return box;
}

class SearchAssist {
  constructor(app, input) {
    Object.assign(this, { app, input, options: [], active: -1, known: null, fetchedAt: 0 });
    this.chips = h("div", { class: "assist-chips" });
    this.list = h("ul", { class: "suggestions", id: "search-suggestions", role: "listbox", "aria-label": t("search.suggestions") });
    this.hint = h("p", { class: "assist-hint muted", id: "search-hint" });
    this.element = h("div", { class: "search-assist", id: "search-assist", hidden: true }, this.chips, this.list, this.hint);
    for (const [name, value] of [["role", "combobox"], ["aria-autocomplete", "list"], ["aria-expanded", "false"],
      ["aria-controls", "search-suggestions"], ["aria-describedby", "search-hint"]]) input.setAttribute(name, value);
    input.addEventListener("focus", () => { this.load(); this.update(); });
    input.addEventListener("input", () => this.update());
    input.addEventListener("keydown", (event) => this.onKey(event));
    // A click inside the panel (a chip, a suggestion) must not blur the input first and close the panel.
    this.element.addEventListener("mousedown", (event) => event.preventDefault());
    // Tab may move into the panel (a chip's remove button): it closes only when the focus leaves both.
    const leave = (event) => { if (!this.owns(event.relatedTarget)) this.close(); };
    input.addEventListener("blur", leave);
    this.element.addEventListener("focusout", leave);
  }

  async load() {
    if (Date.now() - this.fetchedAt < FRESH_MS) return;
    this.fetchedAt = Date.now();
    try {
      this.known = await api("api/search/filters", { quiet: true });
    } catch {
      this.known = null;  // suggestions of filter names still work; values come with the next focus
      this.fetchedAt = 0;
    }
    if (document.activeElement === this.input) this.update({ keepChoice: true });
  }

  update({ keepChoice = false } = {}) {
    const query = this.input.value;
    this.list.setAttribute("aria-label", t("search.suggestions"));
    this.hint.textContent = t("search.hint", { list: (this.known?.filters || FILTERS).map((f) => f.example).join(" · ") });
    this.chips.replaceChildren(filterChips(query, (rest) => this.removed(rest), { complete: true }));
    // When the values arriving from the server redraw the list, the option the reader moved to stays chosen:
    // Enter then takes it instead of searching for the half-typed word. Typing starts afresh.
    const chosen = keepChoice ? this.options[this.active]?.insert : undefined;
    this.options = this.suggest(query.slice(0, this.input.selectionStart ?? query.length));
    this.list.replaceChildren(...this.options.map((option, index) => h("li", {
      role: "option", id: `search-option-${index}`, class: "suggestion", "aria-selected": "false",
      dataset: { value: option.insert }, onclick: () => this.apply(option),
    }, option.label, option.note ? h("span", { class: "muted" }, ` ${option.note}`) : null)));
    this.element.hidden = false;
    this.input.setAttribute("aria-expanded", String(this.options.length > 0));
    this.setActive(chosen === undefined ? -1 : this.options.findIndex((option) => option.insert === chosen));
  }

  // Options for the word being typed: filter names for a partial name, existing values after "name:".
  suggest(before) {
    const word = /(\S*)$/.exec(before)[1];
    const named = /^([A-Za-z]+):"?([^"]*)$/.exec(word);
    if (named) {
      const name = named[1].toLowerCase();
      const partial = named[2].toLowerCase();
      const values = (this.known?.[VALUES[name]] || []).map(String);
      return values.filter((value) => value.toLowerCase().includes(partial) && value.toLowerCase() !== partial)
        .slice(0, MAX_SUGGESTIONS)
        .map((value) => ({ word, insert: `${name}:${quote(value)} `, label: `${name}:${value}`, note: typeNote(name, value) }));
    }
    if (!/^[A-Za-z]+$/.test(word)) return [];
    const filters = this.known?.filters || FILTERS;
    return filters.filter((f) => f.name.startsWith(word.toLowerCase()))
      .map((f) => ({ word, insert: `${f.name}:`, label: `${f.name}:`, note: f.example }));
  }

  apply(option) {
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const head = value.slice(0, caret - option.word.length) + option.insert;
    this.input.value = head + value.slice(caret).replace(/^\S*/, "");
    this.input.setSelectionRange(head.length, head.length);
    this.input.focus();
    this.update();
  }

  // A chip removed while typing: the box loses the filter; a search already on screen runs again without it.
  removed(rest) {
    this.input.value = rest;
    this.input.focus();
    this.update();
    if (this.app.route.startsWith("/search/")) this.app.navigate(rest ? `#/search/${encodeURIComponent(rest)}` : "#/");
  }

  onKey(event) {
    if (!this.options.length || this.element.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const positions = this.options.length + 1;  // the input itself, then each option
      this.setActive((this.active + 1 + (event.key === "ArrowDown" ? 1 : -1) + positions) % positions - 1);
      event.preventDefault();
    } else if ((event.key === "Enter" || event.key === "Tab") && this.active >= 0) {
      this.apply(this.options[this.active]);
      event.preventDefault();
    }
  }

  // -1 is the input itself; 0…n-1 the options.
  setActive(index) {
    this.active = index;
    for (const [at, li] of [...this.list.children].entries()) li.setAttribute("aria-selected", String(at === this.active));
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `search-option-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  owns(node) {
    return node === this.input || (node instanceof Node && this.element.contains(node));
  }

  close() {
    this.element.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }
}

function typeNote(name, value) {
  const note = name === "type" && ["photo", "video"].includes(value) ? t(`search.type${value[0].toUpperCase()}${value.slice(1)}`) : "";
  return note === value ? "" : note;  // only where the language says it differently
}
