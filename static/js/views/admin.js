// The admin gate shared by the settings panel and the download center: asks for the ADMIN_SECRET
// once, exchanges it for the short admin token (kept in sessionStorage only, never the secret), and
// asks again when that token expires or is refused.
//
//   const gate = adminGate(container, app, (body) => renderPanel(body));  // later: gate.dispose()

import { api, adminToken, session, setAdminToken } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { countdown } from "./countdown.js";

addStrings({
  en: {
    "admin.title": "Administrator", "admin.prompt": "Enter the server's admin secret (PHOTONIX_ADMIN_SECRET).",
    "admin.secret": "Admin secret", "admin.submit": "Unlock", "admin.expired": "The admin session ended. Enter the secret again.",
    "admin.notConfigured": "This server has no admin secret: set PHOTONIX_ADMIN_SECRET and restart it.",
    "admin.remaining": { one: "Wrong secret. {count} attempt left before a lock.",
      other: "Wrong secret. {count} attempts left before a lock." }, "admin.locked": "Too many attempts. Try again in {time}.",
  },
  "zh-CN": {
    "admin.title": "管理员", "admin.prompt": "请输入服务器的管理员密钥（PHOTONIX_ADMIN_SECRET）。",
    "admin.secret": "管理员密钥", "admin.submit": "解锁", "admin.expired": "管理员会话已结束，请重新输入密钥。",
    "admin.notConfigured": "此服务器未设置管理员密钥：请设置 PHOTONIX_ADMIN_SECRET 并重启。",
    "admin.remaining": "密钥错误。还可尝试 {count} 次，之后将被锁定。", "admin.locked": "尝试次数过多，请在 {time} 后重试。",
  },
});

export function adminGate(container, app, renderPanel) {
  let panel = null;
  let timer = null;
  const show = (note) => {
    panel?.dispose?.();
    panel = null;
    container.replaceChildren(secretForm(note));
  };
  const open = () => {
    container.replaceChildren();
    panel = renderPanel(container) || null;
  };
  const onRequired = (event) => { if (event.detail) show(t("admin.expired")); else if (!adminToken()) show(); };
  session.addEventListener("admin-required", onRequired);

  function secretForm(note) {
    const input = h("input", { id: "admin-secret", type: "password", autocomplete: "current-password", required: true });
    const message = h("p", { class: "form-message", id: "admin-message", role: "alert" }, note || "");
    const button = h("button", { class: "button primary", type: "submit" }, t("admin.submit"));
    const form = h("form", { class: "card narrow", id: "admin-form", onsubmit: submit },
      h("h2", {}, t("admin.title")), h("p", {}, t("admin.prompt")),
      h("label", {}, t("admin.secret"), input), button, message);
    if (app.settings && app.settings.adminSecretConfigured === false) {
      message.textContent = t("admin.notConfigured");
      button.disabled = true;
    }
    setTimeout(() => input.focus(), 0);

    async function submit(event) {
      event.preventDefault();
      button.disabled = true;
      try {
        const answer = await api("api/auth/admin", { method: "POST", body: { adminSecret: input.value }, quiet: true });
        setAdminToken(answer.token, answer.expiresAt);
        open();
      } catch (error) {
        input.value = "";
        const body = error.body || {};
        if (error.status === 429) {
          timer?.stop();
          timer = countdown(body.retryAfterSeconds, (time) => { message.textContent = t("admin.locked", { time }); },
            () => { button.disabled = false; message.textContent = ""; });
          return;
        }
        message.textContent = body.remainingAttempts !== undefined
          ? t("admin.remaining", { count: body.remainingAttempts }) : error.message;
        button.disabled = false;
      }
    }
    return form;
  }

  if (adminToken()) open();
  else show();
  return {
    dispose() {
      session.removeEventListener("admin-required", onRequired);
      timer?.stop();
      panel?.dispose?.();
    },
    onKey: (event) => panel?.onKey?.(event) || false,
  };
}
