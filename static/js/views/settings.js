// The owner's settings panel (behind the admin gate): password on/off/change, public access, site
// title; index and thumbnail status with live progress; "rebuild index" and "generate missing thumbnails"; the
// cards of shared links, the trash and AI captions (views/ai-settings.js).

import { api, clearAdminToken } from "../api.js";
import { formatTime, h, showInvalid } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { toast } from "../toast.js";
import { adminGate } from "./admin.js";
import { aiCard } from "./ai-settings.js";
import { sharedLinks } from "./shared-links.js";
import { trashCard } from "./trash.js";

const MIN_PASSWORD = 8;
const SHARING_SWITCHES = ["allowZipDownloads", "allowNeverExpiringShares"];  // issue 22; ZIPs are on by default

function switchOn(settings, name) {
  return name === "allowZipDownloads" ? settings?.[name] !== false : !!settings?.[name];
}

addStrings({
  en: {
    "settings.title": "Settings", "settings.access": "Access", "settings.passwordEnabled": "Require a password to view the gallery",
    "settings.publicAccess": "Public access: anyone may view, the password only identifies visitors",
    "settings.newPassword": "New password (at least 8 characters)", "settings.newPasswordKeep": "Leave empty to keep the current password",
    "settings.siteTitle": "Site title", "settings.status": "Library", "settings.albums": "Albums", "settings.photos": "Photos",
    "settings.videos": "Videos", "settings.lastScan": "Last scan", "settings.scanning": "Scanning… {processed} / {total}",
    "settings.thumbs": "Thumbnails", "settings.thumbsLine": "{ok} ready · {missing} missing · {failed} failed",
    "settings.thumbsProgress": "Generating… {done} / {total}", "settings.rebuild": "Rebuild index",
    "settings.generate": "Generate missing thumbnails", "settings.queued": "Started. Progress shows here.",
    "settings.downloads": "Download center", "settings.lock": "Lock admin", "settings.tooShort": "At least 8 characters.",
    "settings.noPasswordYet": "Set a password first.",
    "settings.showLocation": "Show where photos were taken (GPS) to visitors; the administrator always sees it",
    "settings.allowZipDownloads": "Visitors may download albums and selections as ZIP files",
    "settings.allowNeverExpiringShares": "Shared links may be made that never expire",
  },
  "zh-CN": {
    "settings.title": "设置", "settings.access": "访问控制", "settings.passwordEnabled": "查看相册需要密码",
    "settings.publicAccess": "公开访问：任何人都可浏览，密码只用于识别访客",
    "settings.newPassword": "新密码（至少 8 个字符）", "settings.newPasswordKeep": "留空则保持当前密码",
    "settings.siteTitle": "站点标题", "settings.status": "图库", "settings.albums": "相册", "settings.photos": "照片",
    "settings.videos": "视频", "settings.lastScan": "上次扫描", "settings.scanning": "正在扫描… {processed} / {total}",
    "settings.thumbs": "缩略图", "settings.thumbsLine": "已生成 {ok} · 缺少 {missing} · 失败 {failed}",
    "settings.thumbsProgress": "正在生成… {done} / {total}", "settings.rebuild": "重建索引",
    "settings.generate": "生成缺少的缩略图", "settings.queued": "已开始，进度显示在这里。",
    "settings.downloads": "下载中心", "settings.lock": "锁定管理", "settings.tooShort": "至少 8 个字符。",
    "settings.noPasswordYet": "请先设置密码。",
    "settings.showLocation": "向访客显示照片的拍摄地点（GPS）；管理员始终可见",
    "settings.allowZipDownloads": "访客可以将相册和所选项目下载为 ZIP 文件",
    "settings.allowNeverExpiringShares": "允许创建永不过期的共享链接",
  },
});

export function mount(container, params, app) {
  return adminGate(container, app, (el) => panel(el, app));
}

function panel(container, app) {
  const access = accessForm(app);
  const library = libraryStatus(app);
  container.append(h("div", { class: "toolbar" }, h("h2", { class: "breadcrumbs" }, t("settings.title")),
    h("a", { class: "button", href: "#/downloads", id: "settings-downloads" }, t("settings.downloads")),
    h("button", { class: "button ghost", type: "button", onclick: () => { clearAdminToken(); app.render(); } },
      t("settings.lock"))),
  h("div", { class: "settings" }, access, library.element, sharedLinks().element, trashCard(app).element,
    aiCard(app).element));
  return { dispose: () => library.dispose() };
}

function accessForm(app) {
  const current = app.settings || {};
  const enabled = h("input", { type: "checkbox", name: "passwordEnabled", checked: current.passwordEnabled });
  const publicAccess = h("input", { type: "checkbox", name: "publicAccess", checked: current.publicAccess });
  const showLocation = h("input", { type: "checkbox", name: "showLocation", checked: current.showLocation });
  const switches = SHARING_SWITCHES.map((name) => h("input", { type: "checkbox", name, checked: switchOn(current, name) }));
  const password = h("input", { type: "password", name: "newPassword", autocomplete: "new-password",
    placeholder: current.hasPassword ? t("settings.newPasswordKeep") : "" });
  const title = h("input", { type: "text", name: "siteTitle", value: current.siteTitle || "", maxlength: 200 });
  const message = h("p", { class: "form-message", id: "settings-message", role: "status" });
  const sync = () => { publicAccess.disabled = !enabled.checked; };
  enabled.addEventListener("change", sync);
  sync();
  const form = h("form", { class: "card", id: "settings-form", onsubmit: save }, h("h3", {}, t("settings.access")),
    h("label", { class: "check" }, enabled, t("settings.passwordEnabled")),
    h("label", { class: "check" }, publicAccess, t("settings.publicAccess")),
    h("label", { class: "check" }, showLocation, t("settings.showLocation")),
    switches.map((input) => h("label", { class: "check" }, input, t(`settings.${input.name}`))),
    h("label", {}, t("settings.newPassword"), password), h("label", {}, t("settings.siteTitle"), title),
    h("button", { class: "button primary", type: "submit" }, t("common.save")), message);

  async function save(event) {
    event.preventDefault();
    for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
    message.className = "form-message";
    const changes = {};
    if (enabled.checked !== !!app.settings?.passwordEnabled) changes.passwordEnabled = enabled.checked;
    if (publicAccess.checked !== !!app.settings?.publicAccess) changes.publicAccess = publicAccess.checked;
    if (showLocation.checked !== !!app.settings?.showLocation) changes.showLocation = showLocation.checked;
    for (const input of switches) if (input.checked !== switchOn(app.settings, input.name)) changes[input.name] = input.checked;
    if (title.value.trim() !== (app.settings?.siteTitle || "")) changes.siteTitle = title.value.trim();
    if (password.value) changes.newPassword = password.value;
    if (password.value && password.value.length < MIN_PASSWORD) return invalid("newPassword", t("settings.tooShort"));
    if (changes.passwordEnabled && !app.settings?.hasPassword && !password.value) {
      return invalid("newPassword", t("settings.noPasswordYet"));
    }
    if (!Object.keys(changes).length) return;
    try {
      await api("api/settings", { method: "PUT", body: changes, admin: true, quiet: true });
      password.value = "";
      await app.refreshStatus();
      message.className = "form-message ok";
      message.textContent = t("common.saved");
      toast(t("common.saved"));
    } catch (error) {
      invalid(error.field, error.message);
    }
  }

  function invalid(field, text) {
    showInvalid(form, message, field, text);
  }
  return form;
}

function libraryStatus(app) {
  const stats = h("dl", { class: "stats", id: "library-stats" });
  const scan = h("p", { class: "muted", id: "index-progress" });
  const bar = h("div", { class: "progress" }, h("div"));
  const thumbLine = h("p", { class: "muted", id: "thumb-stats" });
  const adminCall = (path) => api(path, { method: "POST", admin: true }).then(() => toast(t("settings.queued")), () => {});
  const element = h("section", { class: "card", id: "library" }, h("h3", {}, t("settings.status")), stats, scan, bar,
    h("h3", {}, t("settings.thumbs")), thumbLine,
    h("div", { class: "toolbar" },
      h("button", { class: "button", type: "button", id: "rebuild-index", onclick: () => adminCall("api/settings/sync/index") },
        t("settings.rebuild")),
      h("button", { class: "button", type: "button", id: "generate-thumbs", onclick: () => adminCall("api/thumbnail/batch") },
        t("settings.generate"))));
  const progress = (done, total) => { bar.firstChild.style.width = `${total ? Math.min(100, (100 * done) / total) : 0}%`; };

  async function refresh() {
    const [status, thumbs] = await Promise.all([
      api("api/settings/status", { quiet: true }).catch(() => null), api("api/thumbnail/stats", { quiet: true }).catch(() => null),
    ]);
    if (status?.index) {
      const index = status.index;
      stats.replaceChildren(...[["albums", index.albums], ["photos", index.photos], ["videos", index.videos],
        ["lastScan", formatTime(index.finishedAt)]].flatMap(([key, value]) => [h("dt", {}, t(`settings.${key}`)), h("dd", {}, value ?? "")]));
      if (!index.running) { scan.textContent = ""; progress(0, 0); }
    }
    if (thumbs) thumbLine.textContent = t("settings.thumbsLine", thumbs);
  }
  const listeners = {
    "index-progress": (e) => { scan.textContent = t("settings.scanning", e.detail); progress(e.detail.processed, e.detail.total); },
    "index-complete": () => refresh(),
    "thumbnail-progress": (e) => { thumbLine.textContent = t("settings.thumbsProgress", e.detail); progress(e.detail.done, e.detail.total); },
    "thumbnail-batch-complete": () => refresh(),
  };
  for (const [type, listener] of Object.entries(listeners)) app.live.addEventListener(type, listener);
  refresh();
  return {
    element,
    dispose: () => { for (const [type, listener] of Object.entries(listeners)) app.live.removeEventListener(type, listener); },
  };
}
