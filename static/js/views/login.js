// The login page: only when the gallery needs a password. Shows the attempts left after a wrong
// password and a live countdown while this address is locked, then returns to where the visitor was.

import { api } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { countdown } from "./countdown.js";

addStrings({
  en: {
    "login.title": "This gallery is private", "login.password": "Password", "login.submit": "Log in",
    "login.remaining": { one: "Wrong password. {count} attempt left before a lock.",
      other: "Wrong password. {count} attempts left before a lock." },
    "login.lockNext": "Wrong password. The next failure locks logins for {seconds} s.",
    "login.locked": "Too many failed attempts. Try again in", "login.expired": "Your session ended. Log in again.",
    "login.admin": "Administrator", "login.noPassword": "This gallery has no password.", "login.open": "Open the gallery",
  },
  "zh-CN": {
    "login.title": "这是私人相册", "login.password": "密码", "login.submit": "登录",
    "login.remaining": "密码错误。还可尝试 {count} 次，之后将被锁定。",
    "login.lockNext": "密码错误。再失败一次将锁定登录 {seconds} 秒。",
    "login.locked": "失败次数过多，请稍后重试：", "login.expired": "会话已结束，请重新登录。",
    "login.admin": "管理员", "login.noPassword": "这个相册没有设置密码。", "login.open": "打开相册",
  },
});

const EXPIRED_CODES = ["TOKEN_EXPIRED", "TOKEN_REVOKED", "TOKEN_INVALID"];

export function mount(container, { query }, app) {
  const next = safeNext(query.get("next"));
  let timer = null;
  const page = h("div", { class: "login-page" });
  page.style.backgroundImage = "url(api/login-bg)";
  container.append(page);
  if (!app.status?.passwordEnabled) {
    page.append(h("div", { class: "card" }, h("p", {}, t("login.noPassword")),
      h("a", { class: "button primary", href: next }, t("login.open"))));
    return null;
  }
  const input = h("input", { id: "login-password", type: "password", name: "password", autocomplete: "current-password",
    required: true });
  const button = h("button", { class: "button primary", type: "submit", id: "login-submit" }, t("login.submit"));
  const message = h("p", { class: "form-message", id: "login-message", role: "alert" },
    EXPIRED_CODES.includes(app.loginReason || app.status?.reason) ? t("login.expired") : "");
  const clock = h("span", { class: "countdown", id: "login-countdown" });
  const form = h("form", { class: "card", id: "login-form", onsubmit: submit },
    h("h2", {}, app.settings?.siteTitle || "Photonix"), h("p", { class: "muted" }, t("login.title")),
    h("label", {}, t("login.password"), input), button, message,
    // The owner's way to the settings, only where the server has an admin secret (visitors have no use for it)
    app.settings?.adminSecretConfigured
      ? h("a", { href: "#/settings", class: "muted", id: "login-admin" }, t("login.admin")) : null);
  page.append(form);
  setTimeout(() => input.focus(), 0);

  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("api/auth/login", { method: "POST", body: { password: input.value }, quiet: true });
      await app.refreshStatus();
      app.afterLogin();
      app.navigate(next);
    } catch (error) {
      input.value = "";
      failed(error);
    }
  }

  function failed(error) {
    const body = error.body || {};
    if (error.status === 429) {
      locked(body.retryAfterSeconds);
      return;
    }
    button.disabled = false;
    if (body.remainingAttempts === undefined) message.textContent = error.message;
    else if (body.remainingAttempts <= 1) message.textContent = t("login.lockNext", { seconds: body.nextLockSeconds });
    else message.textContent = t("login.remaining", { count: body.remainingAttempts });
    input.focus();
  }

  function locked(seconds) {
    button.disabled = true;
    input.disabled = true;
    message.replaceChildren(t("login.locked"), " ", clock);
    timer?.stop();
    timer = countdown(seconds, (text) => { clock.textContent = text; }, () => {
      message.textContent = "";
      button.disabled = false;
      input.disabled = false;
      input.focus();
    });
  }

  return { dispose: () => timer?.stop() };
}

// Only a hash inside this app: never an absolute URL an attacker could put in ?next=.
function safeNext(next) {
  return next && next.startsWith("#/") && !next.startsWith("#/login") ? next : "#/";
}
