// The lightbox's "Describe" (AI captions, services/ai/): POST api/ai/caption with stream: true, the answer read as
// server-sent events from the fetch body and shown as it arrives, asked for in the UI's language. The button is
// shown for photos only, and only when the server says captions are available (GET api/settings: aiCaptions).
//
//   const describe = new Describe({ onDone: (item) => info.show(item) });
//   bar.append(describe.button);  body.append(describe.output);  describe.show(item);  describe.dispose();

import { adminToken, api } from "./api.js";
import { h } from "./dom.js";
import { addStrings, language, t } from "./i18n.js";
import { icon } from "./icons.js";

addStrings({
  en: { "describe.button": "Describe", "describe.working": "Describing…", "describe.failed": "The photo could not be described." },
  "zh-CN": { "describe.button": "描述", "describe.working": "正在描述…", "describe.failed": "无法描述这张照片。" },
});

export class Describe {
  constructor({ onDone = null } = {}) {
    this.onDone = onDone;
    this.button = h("button", { class: "button icon-button", type: "button", id: "lightbox-describe", hidden: true,
      title: t("describe.button"), "aria-label": t("describe.button"), onclick: () => this.run() }, icon("describe"));
    this.output = h("p", { class: "describe-output", id: "lightbox-describe-output", "aria-live": "polite", hidden: true });
    // Never on a share link's page: its session may not ask (the route is not open to share links).
    this.available = document.body.dataset.mode === "share" ? Promise.resolve(false)
      : api("api/settings", { quiet: true }).then((settings) => settings?.aiCaptions === true, () => false);
    this.item = null;
    this.controller = null;
  }

  async show(item) {
    this.controller?.abort();
    this.item = item;
    this.output.hidden = true;
    this.output.textContent = "";
    delete this.output.dataset.state;
    this.button.disabled = false;
    this.button.hidden = true;
    delete this.button.dataset.for;
    const available = item?.type === "photo" && await this.available;
    if (this.item !== item) return;
    this.button.hidden = !available;
    this.button.dataset.for = item.path;  // decided for this item (the tests wait for it)
  }

  async run() {
    const item = this.item;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.button.disabled = true;
    this.setOutput("loading", t("describe.working"));
    let text = "";
    try {
      const response = await api("api/ai/caption", { method: "POST", raw: true, quiet: true, signal: controller.signal,
        admin: adminToken() !== null, body: { path: item.path, language: language(), stream: true } });
      for await (const [event, data] of serverEvents(response)) {
        if (controller.signal.aborted) return;
        if (event === "delta") this.setOutput("streaming", (text += data.text));
        else if (event === "error") throw new Error(data.message || t("describe.failed"));
        else if (event === "done") {
          this.setOutput("done", data.caption);
          this.onDone?.(item);
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) this.setOutput("failed", error.message || t("describe.failed"));
    } finally {
      if (this.controller === controller) this.button.disabled = false;
    }
  }

  setOutput(state, text) {
    this.output.hidden = false;
    this.output.dataset.state = state;
    this.output.textContent = text;
  }

  dispose() {
    this.controller?.abort();
  }
}

// [event, data] for each server-sent event in a fetch response's body, as the events arrive.
async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield [event, JSON.parse(data.join("\n"))];
    }
  }
}
