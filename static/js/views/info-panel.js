// The lightbox's details panel: what GET /api/info says about one photo or video (date taken, camera, lens,
// exposure, size, duration, and the place only when the server gives it). Side panel on a desktop, bottom
// sheet on a phone (CSS); only the newest request's answer is drawn.
//
//   const panel = new InfoPanel();  stage.after(panel.element);  panel.show(item);  panel.hide();

import { api } from "../api.js";
import { formatTaken } from "../dates.js";
import { formatBytes, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";

const OSM_ZOOM = 15;
const COORD_DIGITS = 5;

addStrings({
  en: {
    "info.title": "Details", "info.taken": "Taken", "info.fileDate": "(file date)", "info.camera": "Camera",
    "info.lens": "Lens", "info.exposure": "Exposure", "info.dimensions": "Dimensions", "info.fileSize": "File size",
    "info.duration": "Duration", "info.location": "Location", "info.openMap": "Open in OpenStreetMap",
    "info.unknownDate": "Unknown", "info.altitude": "{alt} m", "info.failed": "The details could not be loaded.",
    "info.caption": "AI caption",
  },
  "zh-CN": {
    "info.title": "详细信息", "info.taken": "拍摄时间", "info.fileDate": "（文件日期）", "info.camera": "相机",
    "info.lens": "镜头", "info.exposure": "曝光", "info.dimensions": "尺寸", "info.fileSize": "文件大小",
    "info.duration": "时长", "info.location": "位置", "info.openMap": "在 OpenStreetMap 中打开",
    "info.unknownDate": "未知", "info.altitude": "{alt} 米", "info.failed": "无法加载详细信息。",
    "info.caption": "AI 描述",
  },
});

export class InfoPanel {
  constructor() {
    this.body = h("dl", { class: "info-list" });
    this.heading = h("h2", { class: "info-name" });
    this.element = h("aside", { class: "info-panel", id: "info-panel", "aria-label": t("info.title"), hidden: true },
      h("h3", { class: "info-title" }, t("info.title")), this.heading, this.body);
    this.controller = null;
  }

  async show(item) {
    this.element.hidden = false;
    this.element.dataset.path = item.path;
    this.element.dataset.state = "loading";
    this.heading.textContent = item.name;
    this.body.replaceChildren(h("p", { class: "muted" }, t("common.loading")));
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const info = await api(`api/info?path=${encodeURIComponent(item.path)}`, { signal: controller.signal, quiet: true });
      if (controller.signal.aborted) return;
      this.body.replaceChildren(...rows(info).map(([field, label, ...value]) => [
        h("dt", { dataset: { field } }, label), h("dd", { dataset: { field } }, ...value)]).flat());
      this.element.dataset.state = "ready";
    } catch (error) {
      if (controller.signal.aborted || error.name === "AbortError") return;
      this.body.replaceChildren(h("p", { class: "muted" }, error.message || t("info.failed")));
      this.element.dataset.state = "failed";
    }
  }

  hide() {
    this.controller?.abort();
    this.controller = null;
    this.element.hidden = true;
  }
}

// [field, label, ...value nodes] for each known detail, in reading order.
function rows(info) {
  const out = [["taken", t("info.taken"), ...taken(info)]];
  if (info.caption?.text) out.push(["caption", t("info.caption"), info.caption.text]);
  if (camera(info.camera)) out.push(["camera", t("info.camera"), camera(info.camera)]);
  if (info.lens) out.push(["lens", t("info.lens"), info.lens]);
  if (exposureLine(info)) out.push(["exposure", t("info.exposure"), exposureLine(info)]);
  if (info.width && info.height) out.push(["dimensions", t("info.dimensions"), dimensions(info.width, info.height)]);
  if (Number.isFinite(info.size)) out.push(["size", t("info.fileSize"), formatBytes(info.size)]);
  if (info.type === "video" && Number.isFinite(info.duration)) {
    out.push(["duration", t("info.duration"), [formatDuration(info.duration), info.codec].filter(Boolean).join(" · ")]);
  }
  if (info.gps && Number.isFinite(info.gps.lat) && Number.isFinite(info.gps.lon)) {
    out.push(["location", t("info.location"), ...location(info.gps)]);
  }
  return out;
}

function taken(info) {
  const when = formatTaken(info.takenAt);
  if (!when) return [t("info.unknownDate")];
  const notes = [when.offset, info.takenFrom === "mtime" ? t("info.fileDate") : ""].filter(Boolean);
  return [when.text, ...notes.map((note) => [" ", h("span", { class: "muted" }, note)])];
}

function camera(value) {
  if (!value) return "";
  if (value.name) return value.name;  // the server's "Canon EOS R5", not "Canon Canon EOS R5"
  const make = (value.make || "").trim();
  const model = (value.model || "").trim();
  if (make && model.toLowerCase().startsWith(make.toLowerCase())) return model;  // "Canon" + "Canon EOS R5"
  return [make, model].filter(Boolean).join(" ");
}

// "f/2.8 · 1/250 s · ISO 200 · 35 mm", leaving out what is unknown.
export function exposureLine({ fNumber, exposureTime, iso, focalLength }) {
  const parts = [];
  if (fNumber > 0) parts.push(`f/${round(fNumber, 1)}`);
  if (exposureTime > 0) parts.push(exposureTime < 1 ? `1/${Math.round(1 / exposureTime)} s` : `${round(exposureTime, 1)} s`);
  if (iso > 0) parts.push(`ISO ${Math.round(iso)}`);
  if (focalLength > 0) parts.push(`${round(focalLength, 1)} mm`);
  return parts.join(" · ");
}

function dimensions(width, height) {
  const megapixels = (width * height) / 1e6;
  const mp = megapixels >= 10 ? Math.round(megapixels) : megapixels >= 0.1 ? round(megapixels, 1) : Number(megapixels.toPrecision(1));
  return `${width} × ${height} · ${mp} MP`;
}

export function formatDuration(seconds) {
  const total = Math.round(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  const [hours, minutes, secs] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  return hours ? `${hours}:${pad(minutes)}:${pad(secs)}` : `${minutes}:${pad(secs)}`;
}

function location({ lat, lon, alt }) {
  const [y, x] = [lat.toFixed(COORD_DIGITS), lon.toFixed(COORD_DIGITS)];
  const href = `https://www.openstreetmap.org/?mlat=${y}&mlon=${x}#map=${OSM_ZOOM}/${y}/${x}`;
  const text = Number.isFinite(alt) ? `${y}, ${x} · ${t("info.altitude", { alt: Math.round(alt) })}` : `${y}, ${x}`;
  return [h("span", { class: "coords" }, text), h("br"),
    h("a", { class: "map-link", href, target: "_blank", rel: "noopener noreferrer" }, t("info.openMap"))];
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}
