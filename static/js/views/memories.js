// "On this day" on the home page: photos taken on today's month and day in earlier years (GET
// /api/memories with the browser's own date), one row per year; nothing at all when there are none.

import { api } from "../api.js";
import { localDate } from "../dates.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { lightbox } from "../lightbox.js";
import { mediaCard } from "./cards.js";

addStrings({
  en: { "memories.title": "On this day", "memories.yearAgo": "1 year ago", "memories.yearsAgo": "{n} years ago" },
  "zh-CN": { "memories.title": "那年今日", "memories.yearAgo": "1 年前", "memories.yearsAgo": "{n} 年前" },
});

// A hidden section that fills itself when the server has memories for today.
export function memoriesStrip(thumbs) {
  const section = h("section", { id: "memories", class: "memories", hidden: true, "aria-label": t("memories.title") },
    h("h3", { class: "section-title" }, t("memories.title")));
  api(`api/memories?date=${localDate()}`, { quiet: true }).then((answer) => {
    const years = (answer?.years || []).filter((year) => year.items?.length);
    if (!years.length || !section.isConnected) return;
    const all = years.flatMap((year) => year.items);  // the lightbox walks through every year shown
    const strip = h("div", { class: "memory-strip" });
    let index = 0;
    for (const year of years) {
      const row = h("div", { class: "memory-row" });
      for (const item of year.items) row.append(mediaCard(item, index++, thumbs, (at) => lightbox.open(all, at)));
      const ago = year.yearsAgo === 1 ? t("memories.yearAgo") : t("memories.yearsAgo", { n: year.yearsAgo });
      strip.append(h("div", { class: "memory-year", dataset: { year: year.year } },
        h("h4", { class: "memory-title" }, ago, " ", h("span", { class: "muted" }, `· ${year.year}`)), row));
    }
    section.append(strip);
    section.hidden = false;
  }, () => {});
  return section;
}
