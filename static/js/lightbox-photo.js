// One photo on the lightbox's stage: its thumbnail at once (the grid has it cached), the preview swapped in once
// decoded (no flash), the original only when zoomed past the preview's resolution; fitted to the stage, never
// enlarged past its own size; zoom and pan. Without a previewUrl (an older server) the original follows the
// thumbnail, as before previews existed.
//
//   const photo = new PhotoView(item, { previews, onChange });  stage.prepend(photo.element);  photo.start(stage);

import { h } from "./dom.js";

const MAX_ZOOM = 5;
const TOGGLE_ZOOM = 2.5;
const SHARPER_BY = 1.02;  // a preview shown this much larger than its own pixels looks soft: fetch the original
const RANK = { thumb: 0, preview: 1, original: 2 };

export class PhotoView {
  constructor(item, { previews, onChange = () => {} }) {
    Object.assign(this, { item, previews, onChange });
    this.zoom = { scale: 1, x: 0, y: 0 };
    this.quality = "thumb";
    this.loading = false;
    this.natural = null;  // the pixel size of the source on screen once it is a preview or the original
    this.fitted = null;   // its size on the stage at zoom 1, in CSS pixels
    this.element = h("img", { class: "lightbox-media", alt: item.name, draggable: "false", src: item.thumbnailUrl,
      dataset: { quality: "thumb" } });
  }

  start(stage) {
    this.stage = stage;
    this.fit();
    if (this.item.previewUrl) this.loadPreview();
    else this.upgrade(this.item.originalUrl, "original");
  }

  dispose() {
    this.disposed = true;
  }

  async loadPreview() {
    this.setLoading(true);
    const url = await this.previews.get(this.item, { priority: "high" });
    if (this.disposed) return;
    if (url) await this.swap(url, "preview");
    else if (this.previews.state(this.item.path) !== "broken") await this.swap(this.item.originalUrl, "original");
    this.setLoading(false);
  }

  async upgrade(src, quality) {
    this.setLoading(true);
    await this.swap(src, quality);
    this.setLoading(false);
  }

  setLoading(loading) {
    if (this.disposed) return;
    this.loading = loading;
    this.onChange();
  }

  // Decode the new source off screen first, then switch: the photo never blanks between two sources.
  async swap(src, quality) {
    const probe = new Image();
    probe.src = src;
    try {
      await probe.decode();
    } catch {
      return false;
    }
    if (this.disposed || RANK[quality] <= RANK[this.quality]) return false;
    this.element.src = src;
    this.element.dataset.quality = quality;
    this.quality = quality;
    this.natural = { width: probe.naturalWidth, height: probe.naturalHeight };
    this.fit();
    this.sharpen();
    return true;
  }

  /** Size the image to the stage at zoom 1 (contain, never enlarged); again whenever the stage changes size. */
  fit() {
    const [width, height] = this.size();
    const box = this.stage?.getBoundingClientRect();
    if (!width || !height || !box?.width || !box.height) return;
    const k = Math.min(1, box.width / width, box.height / height);
    this.fitted = { width: width * k, height: height * k };
    this.element.style.width = `${this.fitted.width}px`;
    this.element.style.height = `${this.fitted.height}px`;
  }

  /** The stage changed size (a turned phone, the details panel): fit again, and sharpen if now needed. */
  relayout() {
    this.fit();
    this.sharpen();
  }

  // The photo's upright size: the index's width/height, turned when the decoded source says it stands the other way.
  size() {
    let { width, height } = this.item;
    const natural = this.natural;
    if (!natural) return [width, height];
    if (!width || !height) return [natural.width, natural.height];
    if (natural.width !== natural.height && (natural.width > natural.height) !== (width > height)) {
      [width, height] = [height, width];
    }
    return [width, height];
  }

  // Zoomed past what the preview holds (and the original holds more): load the original.
  sharpen() {
    if (this.quality !== "preview" || this.sharpening || !this.fitted || !this.natural) return;
    const shown = this.fitted.width * this.zoom.scale * (window.devicePixelRatio || 1);
    const full = this.item.width && this.item.height ? Math.max(this.item.width, this.item.height) : Infinity;
    if (full > Math.max(this.natural.width, this.natural.height) && shown > this.natural.width * SHARPER_BY) {
      this.sharpening = true;
      this.upgrade(this.item.originalUrl, "original");
    }
  }

  /** Zoom to `scale` (1 to 5); `at` (client x/y) stays under the finger or the cursor. */
  setZoom(scale, at = null) {
    const next = Math.max(1, Math.min(MAX_ZOOM, scale));
    if (at && next !== 1) {
      const box = this.element.getBoundingClientRect();
      const ratio = next / this.zoom.scale;
      this.zoom.x += (at.x - (box.left + box.width / 2)) * (1 - ratio);
      this.zoom.y += (at.y - (box.top + box.height / 2)) * (1 - ratio);
    }
    this.zoom.scale = next;
    if (next === 1) Object.assign(this.zoom, { x: 0, y: 0 });
    this.apply();
    this.sharpen();
  }

  toggleZoom(at = null) {
    this.setZoom(this.zoom.scale > 1 ? 1 : TOGGLE_ZOOM, at);
  }

  panTo(x, y) {
    Object.assign(this.zoom, { x, y });
    this.apply();
  }

  apply() {
    const { scale, x, y } = this.zoom;
    this.element.style.transform = scale === 1 ? "" : `translate(${x}px, ${y}px) scale(${scale})`;
    this.onChange();
  }
}
