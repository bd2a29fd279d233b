// A QR code as an inline SVG (no image file, no inline style: CSP 'self'), drawn from the module matrix of the
// vendored encoder: static/vendor/uqr/uqr.js is the npm package uqr 0.1.3's dist/index.mjs, unchanged (MIT,
// LICENSE beside it); to update: `npm pack uqr`, copy the file there.
//
//   container.append(qrSvg("https://photos.example/s/…", { label: "QR code of the link" }));

import { encode } from "../vendor/uqr/uqr.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const QUIET_MODULES = 4;  // the light margin the QR standard asks for, in modules

/** An <svg role="img"> of `text`'s QR code: one path of dark squares on a light square, scaled by CSS. */
export function qrSvg(text, { label = "QR code" } = {}) {
  const { data, size } = encode(text, { ecc: "M", border: QUIET_MODULES });
  const svg = element("svg", { class: "qr", viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": label,
    "shape-rendering": "crispEdges" });
  svg.append(element("rect", { width: size, height: size, fill: "#fff" }));  // dark on light in every theme
  const dark = [];
  data.forEach((row, y) => row.forEach((on, x) => { if (on) dark.push(`M${x} ${y}h1v1h-1z`); }));
  svg.append(element("path", { d: dark.join(""), fill: "#000" }));
  return svg;
}

function element(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}
