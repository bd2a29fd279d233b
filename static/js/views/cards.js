// One album card and one photo/video card, shared by album pages, search results and recently viewed.

import { formatBytes, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";

const FOLDER_ICON = "static/img/folder.svg";

addStrings({
  en: { "card.items": "{count}", "card.video": "Video" },
  "zh-CN": { "card.items": "{count}", "card.video": "视频" },
});

export function albumCard(album, app, thumbs) {
  const cover = h("img", { alt: "", class: "thumb" });
  if (album.coverUrl) thumbs.observe(cover, album.coverUrl, coverPath(album.coverUrl));
  else {
    cover.src = FOLDER_ICON;
    cover.classList.add("placeholder");
  }
  return h("a", { class: "album-card", href: app.albumHash(album.path), dataset: { path: album.path }, title: album.name },
    h("div", { class: "cover" }, cover),
    h("div", { class: "meta" }, h("span", { class: "name" }, album.name),
      h("span", { class: "count" }, t("card.items", { count: album.itemCount ?? "" }))));
}

export function mediaCard(item, index, thumbs, open) {
  const img = h("img", { alt: item.name, class: "thumb", width: item.width || null, height: item.height || null });
  thumbs.observe(img, item.thumbnailUrl, item.path);
  const card = h("a", {
    class: "media-card", href: item.originalUrl, dataset: { path: item.path, index, type: item.type },
    title: `${item.name} · ${formatBytes(item.size)}`,
    onclick: (event) => { event.preventDefault(); open(index); },
  }, img, item.type === "video" ? h("span", { class: "badge" }, `▶ ${t("card.video")}`) : null,
  h("span", { class: "caption" }, item.name));
  if (item.width && item.height) card.style.setProperty("--ratio", `${item.width} / ${item.height}`);
  return card;
}

// The gallery path inside a cover's thumbnail URL, so a thumbnail-generated event finds the card.
function coverPath(url) {
  const query = url.split("?")[1] || "";
  return new URLSearchParams(query).get("path") || "";
}
