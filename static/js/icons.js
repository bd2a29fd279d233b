// Inline SVG icons drawn with currentColor, so they render on every system (font glyphs such as ⛶ show as
// empty boxes where the font lacks them). Decorative: the button that holds one carries the label.
//
//   button.append(icon("close"));   // <svg class="icon" aria-hidden="true" ...>

const SVG_NS = "http://www.w3.org/2000/svg";

// 24×24 outlines, stroked (feather-like); one entry per icon, each a list of path data.
const PATHS = {
  prev: ["M15 5l-7 7 7 7"],
  next: ["M9 5l7 7-7 7"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  fullscreen: ["M4 9V4h5", "M15 4h5v5", "M20 15v5h-5", "M9 20H4v-5"],
  info: ["M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z", "M12 11v6", "M12 7.5v.5"],
  play: ["M8 5l11 7-11 7z"],
  pause: ["M8 5v14", "M16 5v14"],
  timer: ["M12 6a7.5 7.5 0 1 0 0 15a7.5 7.5 0 1 0 0-15z", "M12 9.5v4l2.5 2", "M9.5 2.5h5"],
  search: ["M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14z", "M16 16l4.5 4.5"],
  menu: ["M4 7h16", "M4 12h16", "M4 17h16"],
  describe: ["M4 5h16v11H10l-4 4v-4H4z", "M8 9h8", "M8 12h5"],  // a speech bubble: the lightbox's AI caption
};

export const ICON_NAMES = Object.freeze(Object.keys(PATHS));

export function icon(name, { size = 20 } = {}) {
  const paths = PATHS[name];
  if (!paths) throw new Error(`no icon named ${name}`);
  const svg = document.createElementNS(SVG_NS, "svg");
  for (const [key, value] of Object.entries({ class: `icon icon-${name}`, viewBox: "0 0 24 24", width: size,
    height: size, fill: name === "play" ? "currentColor" : "none", stroke: "currentColor", "stroke-width": 2,
    "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false" })) {
    svg.setAttribute(key, String(value));
  }
  for (const d of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}
