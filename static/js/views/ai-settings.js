// The "AI captions" card of the settings panel: the admin's `ai` settings (GET/PUT api/settings with the admin
// token; the same service as api/ai/settings). The API key is write-only: the card only says whether one is saved,
// an empty key field keeps it, and "Remove the saved key" sends null. A refusal is shown under its field.
//
//   container.append(aiCard(app).element);

import { api } from "../api.js";
import { h, showInvalid } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";

const TEXTS = ["url", "model", "prompt"];
const NUMBERS = { dailyLimitPerClient: [1, 100000], timeoutSeconds: [5, 300] };
const SWITCHES = ["enabled", "allowPrivateHosts"];

addStrings({
  en: {
    "ai.title": "AI captions", "ai.enabled": "Offer “Describe” on photos (AI captions)",
    "ai.url": "Server address (OpenAI-compatible, e.g. https://api.openai.com/v1)", "ai.model": "Model",
    "ai.apiKey": "API key", "ai.keySaved": "A key is saved (it is never shown). Leave empty to keep it.",
    "ai.noKey": "No key is saved.", "ai.removeKey": "Remove the saved key", "ai.prompt": "Prompt",
    "ai.dailyLimitPerClient": "Captions per visitor per day", "ai.timeoutSeconds": "Timeout (seconds)",
    "ai.allowPrivateHosts": "Allow a server on this machine or the local network",
    "ai.privateHint": "Ollama on the same machine (http://localhost:11434/v1) needs this.",
  },
  "zh-CN": {
    "ai.title": "AI 描述", "ai.enabled": "在照片上提供“描述”（AI 生成说明）",
    "ai.url": "服务器地址（兼容 OpenAI，例如 https://api.openai.com/v1）", "ai.model": "模型",
    "ai.apiKey": "API 密钥", "ai.keySaved": "已保存密钥（不会显示）。留空则保持不变。",
    "ai.noKey": "未保存密钥。", "ai.removeKey": "删除已保存的密钥", "ai.prompt": "提示词",
    "ai.dailyLimitPerClient": "每位访客每天的描述次数", "ai.timeoutSeconds": "超时（秒）",
    "ai.allowPrivateHosts": "允许本机或局域网内的服务器",
    "ai.privateHint": "同一台机器上的 Ollama（http://localhost:11434/v1）需要开启此项。",
  },
});

export function aiCard(app) {
  let saved = null;
  const fields = {};
  const errors = {};
  const field = (name, input, hint) => {
    fields[name] = input;
    errors[name] = h("small", { class: "field-error", "data-error-for": `ai.${name}` });
    const note = hint ? h("small", { class: "muted" }, hint) : null;
    if (!SWITCHES.includes(name)) return h("label", {}, t(`ai.${name}`), input, note, errors[name]);
    return h("div", {}, h("label", { class: "check" }, input, t(`ai.${name}`)), note, errors[name]);
  };
  const keyState = h("small", { class: "muted", id: "ai-key-state" });
  const removeKey = h("input", { type: "checkbox", id: "ai-remove-key" });
  const removeRow = h("label", { class: "check", hidden: true }, removeKey, t("ai.removeKey"));
  const message = h("p", { class: "form-message", id: "ai-message", role: "status" });
  const form = h("form", { id: "ai-form", onsubmit: save, novalidate: true },
    field("enabled", h("input", { type: "checkbox", name: "ai.enabled", id: "ai-enabled" })),
    field("url", h("input", { type: "url", name: "ai.url", id: "ai-url", maxlength: 500, spellcheck: "false" })),
    field("model", h("input", { type: "text", name: "ai.model", id: "ai-model", maxlength: 200, spellcheck: "false" })),
    field("apiKey", h("input", { type: "password", name: "ai.apiKey", id: "ai-api-key", autocomplete: "new-password",
      maxlength: 500 }), keyState),
    removeRow,
    field("prompt", h("textarea", { name: "ai.prompt", id: "ai-prompt", rows: 3, maxlength: 2000 })),
    field("dailyLimitPerClient", h("input", { type: "number", name: "ai.dailyLimitPerClient", id: "ai-daily-limit",
      min: NUMBERS.dailyLimitPerClient[0], max: NUMBERS.dailyLimitPerClient[1], step: 1 })),
    field("timeoutSeconds", h("input", { type: "number", name: "ai.timeoutSeconds", id: "ai-timeout",
      min: NUMBERS.timeoutSeconds[0], max: NUMBERS.timeoutSeconds[1], step: 1 })),
    field("allowPrivateHosts", h("input", { type: "checkbox", name: "ai.allowPrivateHosts", id: "ai-allow-private" }),
      t("ai.privateHint")),
    h("button", { class: "button primary", type: "submit", id: "ai-save" }, t("common.save")), message);
  const element = h("section", { class: "card", id: "ai-settings" }, h("h3", {}, t("ai.title")), form);

  function show(ai) {
    saved = ai;
    for (const name of SWITCHES) fields[name].checked = !!ai[name];
    for (const name of [...TEXTS, ...Object.keys(NUMBERS)]) fields[name].value = ai[name] ?? "";
    fields.apiKey.value = "";
    removeKey.checked = false;
    removeRow.hidden = !ai.hasApiKey;
    keyState.textContent = t(ai.hasApiKey ? "ai.keySaved" : "ai.noKey");
    form.dataset.state = "ready";
  }

  function changes() {
    const body = {};
    for (const name of SWITCHES) if (fields[name].checked !== saved[name]) body[name] = fields[name].checked;
    for (const name of TEXTS) if (fields[name].value.trim() !== saved[name]) body[name] = fields[name].value.trim();
    for (const name of Object.keys(NUMBERS)) {
      const value = fields[name].valueAsNumber;
      if (value !== saved[name]) body[name] = Number.isFinite(value) ? value : fields[name].value;
    }
    if (fields.apiKey.value) body.apiKey = fields.apiKey.value;
    else if (removeKey.checked) body.apiKey = null;
    return body;
  }

  function clearErrors() {
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    for (const small of Object.values(errors)) small.textContent = "";
    message.className = "form-message";
    message.textContent = "";
  }

  async function save(event) {
    event.preventDefault();
    if (!saved) return;
    clearErrors();
    const ai = changes();
    if (!Object.keys(ai).length) return;
    try {
      const answer = await api("api/settings", { method: "PUT", body: { ai }, admin: true, quiet: true });
      show(answer.ai);
      await app.refreshStatus();
      message.className = "form-message ok";
      message.textContent = t("common.saved");
      toast(t("common.saved"));
    } catch (error) {
      const name = error.field?.startsWith("ai.") ? error.field.slice(3) : null;
      if (errors[name]) {
        errors[name].textContent = error.message;
        showInvalid(form, h("span"), error.field, error.message);
      } else {
        showInvalid(form, message, error.field, error.message);
      }
    }
  }

  api("api/settings", { admin: true, quiet: true }).then((answer) => { if (answer?.ai) show(answer.ai); }, () => {});
  return { element };
}
