// Share mode: the page at /s/<token> (templates/index.html's <body data-mode="share">). Opens the link, asking
// its password on every visit when it has one, then shows the shared album through the gallery view (rooted at
// it: "#/" is the shared album) or the one shared photo in the lightbox, under a banner with the link's title,
// who may see it, its expiry and Download all. Nothing leads to the rest of the gallery, settings or a login.
// A link revoked or expired meanwhile (401 SHARE_REVOKED / SHARE_EXPIRED on any call) ends in a clear screen.
//
//   if (document.body.dataset.mode === "share") await startShareMode(app);   // app.js, instead of the gallery's boot

import { api, leaveShareSession, session, setShareToken } from "./api.js";
import { encodePath, formatTime, h } from "./dom.js";
import { failureNote } from "./failure.js";
import { addStrings, t } from "./i18n.js";
import { lightbox } from "./lightbox.js";
import { setShareDownloads } from "./selection.js";
import { ThumbLoader } from "./thumbs.js";
import { mediaCard } from "./views/cards.js";
import { countdown } from "./views/countdown.js";
import { albumRoot } from "./views/gallery.js";

const GALLERY = "./views/gallery.js";  // module names as app.js imports them
const SELF = "./share-mode.js";

addStrings({
  en: {
    "shared.gate": "This shared link has a password", "shared.prompt": "Enter the password you were given with the link.",
    "shared.hint": "Hint: {hint}", "shared.password": "Password", "shared.open": "Open",
    "shared.remaining": { one: "Wrong password. {count} attempt left before a lock.",
      other: "Wrong password. {count} attempts left before a lock." },
    "shared.locked": "Too many failed attempts. Try again in {time}.", "shared.again": "Your visit ended. Enter the password again.",
    "shared.anyone": "Anyone with this link can see this.", "shared.anyonePassword": "Anyone with this link and its password can see this.",
    "shared.expires": "The link expires {when}.", "shared.noExpiry": "The link does not expire.",
    "shared.downloadAll": "Download all", "shared.download": "Download", "shared.label": "Shared link",
    "shared.SHARE_REVOKED": "This link was revoked", "shared.SHARE_EXPIRED": "This link has expired",
    "shared.NOT_FOUND": "There is no shared link at this address", "shared.askAgain": "Ask the person who sent it for a new link.",
  },
  "zh-CN": {
    "shared.gate": "此共享链接设有密码", "shared.prompt": "请输入随链接一起收到的密码。",
    "shared.hint": "提示：{hint}", "shared.password": "密码", "shared.open": "打开",
    "shared.remaining": "密码错误。还可尝试 {count} 次，之后将被锁定。",
    "shared.locked": "失败次数过多，请在 {time} 后重试。", "shared.again": "本次访问已结束，请重新输入密码。",
    "shared.anyone": "任何拥有此链接的人都能看到这些内容。", "shared.anyonePassword": "任何拥有此链接及其密码的人都能看到这些内容。",
    "shared.expires": "链接将于 {when} 过期。", "shared.noExpiry": "链接永不过期。",
    "shared.downloadAll": "全部下载", "shared.download": "下载", "shared.label": "共享链接",
    "shared.SHARE_REVOKED": "此链接已被撤销", "shared.SHARE_EXPIRED": "此链接已过期",
    "shared.NOT_FOUND": "此地址没有共享链接", "shared.askAgain": "请向发送者索取新的链接。",
  },
});

/** Take over the app for a share link's page: open the link, then render its album or photo. */
export async function startShareMode(app) {
  const mode = new ShareMode(app, location.pathname.split("/").filter(Boolean).pop() || "");
  mode.wire();
  await mode.open();
  return mode;
}

// app.js's view modules: [SELF, name, params] from ShareMode.resolve().
export const mountPhoto = (container, { mode }) => mode.photoView(container);
export const mountEnded = (container, { mode }) => mode.endedView(container);
export const mountGate = (container, { mode }) => mode.reopen();

class ShareMode {
  constructor(app, token) {
    Object.assign(this, { app, token, share: null, ended: null, gating: false, timer: null });
    this.banner = h("section", { class: "share-banner", id: "share-banner", hidden: true, "aria-label": t("shared.label") });
    document.getElementById("view").before(this.banner);
  }

  wire() {
    const app = this.app;
    app.resolve = (route) => this.resolve(route);
    // The page's <base> is the app's root: links name this page's path before the hash, or they would leave it.
    const here = `s/${encodeURIComponent(this.token)}`;
    app.albumHash = (path) => `${here}${path && path !== this.share?.path ? `#/browse/${encodePath(path)}` : "#/"}`;
    app.timelineHash = () => `${here}#/`;
    document.getElementById("site-title").setAttribute("href", `${here}#/`);
    document.addEventListener("click", (event) => {  // any other "#/…" link stays on this page too
      const link = event.target.closest?.("a[href^='#']");
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
      event.preventDefault();
      location.hash = link.getAttribute("href");
    });
    app.goLogin = () => this.reopen();  // the session ended (12 hours at most): the password again
    session.addEventListener("share-ended", (event) => this.end(event.detail));
    // The stream lost (the server ends it when the link ends): one scoped call says whether the link still opens.
    app.live.addEventListener("state", ({ detail }) => { if (detail === "backoff" && this.share) this.probe(); });
    document.getElementById("lang-select").addEventListener("change", () => this.drawBanner());
  }

  resolve(route) {
    if (this.ended) return [SELF, "mountEnded", { mode: this }];
    if (!this.share) return [SELF, "mountGate", { mode: this }];  // not open yet (an open route, say #/login)
    if (this.share.kind !== "album") return [SELF, "mountPhoto", { mode: this }];
    const inside = route.match(/^\/browse\/(.+)$/);
    if (inside) return [GALLERY, "mountAlbum", { path: inside[1].split("/").map(decodeURIComponent).join("/") }];
    const search = route.match(/^\/search\/(.*)$/);
    if (search) return [GALLERY, "mountSearch", { text: decodeURIComponent(search[1]) }];
    return [GALLERY, "mountAlbum", { path: this.share.path }];  // "#/", and every route share mode has not
  }

  async open(password) {
    try {
      const body = password === undefined ? {} : { password };
      const answer = await api(`api/share/${encodeURIComponent(this.token)}/open`, { method: "POST", body, quiet: true });
      await this.opened(answer);
    } catch (error) {
      this.refused(error);
    }
  }

  async opened(answer) {
    const first = !this.share;
    this.gating = false;
    this.timer?.stop();
    setShareToken(answer.accessToken);
    setShareDownloads(answer);  // the album menu's and select mode's ZIPs (selection.js)
    this.share = answer;
    const name = answer.path.split("/").pop();
    Object.assign(albumRoot, { path: answer.path, name: answer.title || name || null, timeline: false });
    await this.app.refreshStatus().catch(() => {});
    this.drawBanner();
    if (first) this.app.live.start();
    else this.app.live.resume();
    this.app.render();
  }

  refused(error) {
    const body = error.body || {};
    if (error.code === "SHARE_PASSWORD_REQUIRED") this.gate().hint(body.passwordHint);
    else if (error.code === "SHARE_PASSWORD_INVALID") this.gate().say(t("shared.remaining", { count: body.remainingAttempts }));
    else if (error.status === 429) this.gate().lock(body.retryAfterSeconds);
    else if (error.status === 410 || error.status === 404) this.end(error.status === 404 ? "NOT_FOUND" : error.code);
    else document.getElementById("view").replaceChildren(failureNote(error, { retry: () => this.open() }));
  }

  // The password form (made once per gate; a wrong password or a lock is said under it).
  gate() {
    if (this.form?.isConnected) return this.form.api;
    this.gating = true;
    const input = h("input", { id: "share-password-input", type: "password", autocomplete: "current-password",
      required: true });
    const button = h("button", { class: "button primary", type: "submit", id: "share-open" }, t("shared.open"));
    const hint = h("p", { class: "muted", id: "share-hint", hidden: true });
    const message = h("p", { class: "form-message", id: "share-open-message", role: "alert" },
      this.share ? t("shared.again") : "");
    const form = h("form", { class: "card narrow share-gate", id: "share-gate", onsubmit: (event) => {
      event.preventDefault();
      button.disabled = true;
      this.open(input.value).finally(() => { button.disabled = !!this.locked; input.value = ""; });
    } }, h("h2", {}, t("shared.gate")), h("p", {}, t("shared.prompt")), hint,
    h("label", {}, t("shared.password"), input), button, message);
    form.api = {
      hint: (text) => { hint.hidden = !text; hint.textContent = text ? t("shared.hint", { hint: text }) : ""; },
      say: (text) => { message.textContent = text; input.focus(); },
      lock: (seconds) => {
        this.timer?.stop();
        this.locked = true;
        button.disabled = true;
        this.timer = countdown(seconds, (time) => { message.textContent = t("shared.locked", { time }); },
          () => { this.locked = false; button.disabled = false; message.textContent = ""; });
      },
    };
    this.form = form;
    this.banner.hidden = true;
    lightbox.close();
    document.getElementById("view").replaceChildren(form);
    setTimeout(() => input.focus(), 0);
    return form.api;
  }

  reopen() {
    if (this.ended || (this.gating && this.form?.isConnected)) return;
    if (this.gating) {  // app.render() cleared the form (a language change): ask the server, draw it anew
      this.open();
      return;
    }
    setShareToken(null);
    this.app.live.stop();
    this.open();
  }

  end(code) {
    if (this.ended) return;
    this.ended = code || "SHARE_REVOKED";
    this.timer?.stop();
    setShareToken(null);
    setShareDownloads(null);
    this.app.live.stop();
    leaveShareSession().catch(() => {});  // the browser forgets the link's session cookie
    this.banner.hidden = true;
    this.app.status ||= { authenticated: true };  // app.render() draws the ended screen whatever the login
    this.app.render();
  }

  probe() {
    const path = this.share.path;
    const url = this.share.kind === "album" ? `api/browse${path ? `/${encodePath(path)}` : ""}?limit=1`
      : `api/info?path=${encodeURIComponent(path)}`;
    api(url, { quiet: true }).catch(() => {});  // an ended link answers 401: api.js says "share-ended"
  }

  drawBanner() {
    const share = this.share;
    if (!share || this.ended) return;
    const name = share.title || share.path.split("/").pop() || this.app.settings?.siteTitle || "Photonix";
    const expiry = share.expiresAt ? t("shared.expires", { when: formatTime(share.expiresAt) }) : t("shared.noExpiry");
    const album = share.kind === "album";
    const href = album ? `api/zip/${encodePath(share.path)}` : `api/file/${encodePath(share.path)}`;
    this.banner.setAttribute("aria-label", t("shared.label"));
    this.banner.replaceChildren(
      h("div", { class: "share-about" }, h("h2", { id: "share-title" }, name),
        h("p", { id: "share-audience" }, t(share.hasPassword ? "shared.anyonePassword" : "shared.anyone")),
        h("p", { class: "muted", id: "share-expiry" }, expiry)),
      share.allowDownload ? h("a", { class: "button primary", id: "share-download-all", href, download: "" },
        t(album ? "shared.downloadAll" : "shared.download")) : null);
    this.banner.hidden = false;
  }

  photoView(container) {
    const thumbs = new ThumbLoader(this.app.live);
    const slot = h("div", { class: "share-single", id: "grid" });
    container.append(slot);
    const path = this.share.path;
    api(`api/info?path=${encodeURIComponent(path)}`, { quiet: true }).then((info) => {
      const item = sharedItem(path, info);
      slot.append(mediaCard(item, 0, thumbs, () => lightbox.open([item], 0)));
      lightbox.open([item], 0);
    }, (error) => slot.replaceChildren(failureNote(error, { retry: () => this.app.render() })));
    return { dispose: () => thumbs.dispose() };
  }

  endedView(container) {
    container.append(h("section", { class: "card narrow share-ended", id: "share-ended", role: "alert",
      dataset: { code: this.ended } }, h("h2", {}, t(`shared.${this.ended}`)), h("p", {}, t("shared.askAgain"))));
    return null;
  }
}

// The shared photo or video as the lightbox and the cards want it, from its /api/info answer.
function sharedItem(path, info) {
  const query = `path=${encodeURIComponent(path)}`;
  return { ...info, path, thumbnailUrl: `api/thumbnail?${query}`, previewUrl: info.type === "photo" ? `api/preview?${query}` : null,
    originalUrl: `api/file/${encodePath(path)}`, placeholder: null };
}
