// One album card and one photo/video card, shared by album pages, search results, the timeline and recently
// viewed. A photo card knows its shape (data-aspect, for the justified grid), paints the item's ThumbHash
// `placeholder` as a blurred picture (a neutral tint without one) until the thumbnail arrives, and a video
// card shows its duration when the index knows it. static/vendor/thumbhash/thumbhash.js is the npm package
// thumbhash 0.1.1's file, unchanged (MIT, LICENSE beside it); to update: `npm pack thumbhash`, copy it there.

import { formatBytes, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { aspectOf } from "../layout.js";
import { thumbHashToApproximateAspectRatio, thumbHashToDataURL } from "../../vendor/thumbhash/thumbhash.js";
import { formatDuration } from "./info-panel.js";

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
  const frame = h("div", { class: "cover" }, cover);
  const hash = album.coverUrl ? decodeHash(album.coverPlaceholder) : null;
  if (hash) paintPlaceholder(frame, hash);
  return h("a", { class: "album-card", href: app.albumHash(album.path), dataset: { path: album.path }, title: album.name },
    frame,
    h("div", { class: "meta" }, h("span", { class: "name" }, album.name),
      h("span", { class: "count" }, t("card.items", { count: album.itemCount ?? "" }))));
}

export function mediaCard(item, index, thumbs, open) {
  // alt "": the card's caption already names the photo, and a screen reader would say the name twice.
  const img = h("img", { alt: "", class: "thumb", width: item.width || null, height: item.height || null });
  thumbs.observe(img, item.thumbnailUrl, item.path);
  const hash = decodeHash(item.placeholder);
  const card = h("a", {
    class: "media-card", href: item.originalUrl, dataset: { path: item.path, index, type: item.type },
    title: `${item.name} · ${formatBytes(item.size)}`,
    onclick: (event) => { event.preventDefault(); open(index); },
  }, img, item.type === "video" ? videoBadge(item.duration) : null, h("span", { class: "caption" }, item.name));
  const aspect = aspectOf(item.width, item.height, hash ? approximateAspect(hash) : undefined);
  card.dataset.aspect = String(aspect);
  card.style.setProperty("--ratio", String(aspect));
  if (hash) paintPlaceholder(card, hash);
  return card;
}

// "▶ 1:05" when the duration is known, else "▶ Video".
function videoBadge(duration) {
  const text = duration > 0 ? formatDuration(duration) : null;
  return h("span", { class: "badge video-badge", dataset: text ? { duration: text } : null },
    h("span", { "aria-hidden": "true" }, "▶ "), text || t("card.video"));
}

// The ThumbHash as a small PNG, stretched over the card (or cover) behind the still transparent thumbnail.
function paintPlaceholder(element, hash) {
  try {
    element.style.backgroundImage = `url("${thumbHashToDataURL(hash)}")`;
    element.dataset.placeholder = "painted";
  } catch {
    // a malformed hash: the neutral tint stays
  }
}

function decodeHash(base64) {
  if (!base64 || typeof base64 !== "string") return null;
  try {
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    return bytes.length >= 5 ? bytes : null;
  } catch {
    return null;
  }
}

function approximateAspect(hash) {
  try {
    return thumbHashToApproximateAspectRatio(hash);
  } catch {
    return undefined;
  }
}

// The gallery path inside a cover's thumbnail URL, so a thumbnail-generated event finds the card.
function coverPath(url) {
  const query = url.split("?")[1] || "";
  return new URLSearchParams(query).get("path") || "";
}
