// Short messages in the corner: every API error lands here with its server message.

import { h } from "./dom.js";

const SHOW_MS = { info: 3500, error: 7000 };

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box || !message) return;
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  item.addEventListener("click", () => item.remove());
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), SHOW_MS[kind] || SHOW_MS.info);
}
