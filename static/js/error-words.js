// What an API error says to the reader, in the UI's language: one entry per error code the server can send
// (errors.py; tests/browser/test_frame_ui.py checks that every code there has both languages here). The
// server's English message is shown only for a code this table does not know, or in the English UI for the
// codes whose server message names the particular problem (`detailed`: which field, which host, why).
//
//   describeError({ status: 404, body: { code: "NOT_FOUND", message: "Nothing is at this path." } })
//   // → "Nothing was found here." / "这里什么也没有。"

import { language, t } from "./i18n.js";

export const ERROR_WORDS = {
  INTERNAL_ERROR: { en: "Something went wrong on the server.", "zh-CN": "服务器出错了。" },
  BAD_REQUEST: { en: "The request could not be understood.", "zh-CN": "请求无法识别。", detailed: true },
  INVALID_JSON: { en: "The request body is not valid JSON.", "zh-CN": "请求内容不是有效的 JSON。" },
  VALIDATION_ERROR: { en: "“{field}” has a value that is not accepted.", "zh-CN": "“{field}”的值无效。", detailed: true },
  INVALID_PATH: { en: "This is not a valid gallery path.", "zh-CN": "这不是有效的相册路径。" },
  INVALID_PROXY_HEADER: { en: "The proxy in front of the gallery sent a header it refuses.",
    "zh-CN": "相册前面的代理发送了无法接受的请求头。", detailed: true },
  AUTH_REQUIRED: { en: "Log in to view this gallery.", "zh-CN": "请登录后查看这个相册。" },
  FORBIDDEN: { en: "You are not allowed to do this.", "zh-CN": "你没有权限这样做。" },
  CROSS_SITE_REQUEST: { en: "Changes are accepted only from this gallery's own pages.",
    "zh-CN": "只接受来自本相册页面的修改。" },
  PATH_FORBIDDEN: { en: "This path leads outside the gallery.", "zh-CN": "这个路径指向相册之外。" },
  NOT_FOUND: { en: "Nothing was found here.", "zh-CN": "这里什么也没有。" },
  METHOD_NOT_ALLOWED: { en: "This address does not accept this request.", "zh-CN": "这个地址不接受此请求。" },
  PAYLOAD_TOO_LARGE: { en: "What was sent is too large.", "zh-CN": "发送的内容太大。" },
  UNSUPPORTED_MEDIA_TYPE: { en: "The request was sent in a form the server does not accept.",
    "zh-CN": "请求的格式不被服务器接受。" },
  RATE_LIMITED: { en: "Too many requests; wait a moment and try again.", "zh-CN": "请求过于频繁，请稍后重试。" },
  TOO_MANY_STREAMS: { en: "Too many live-update connections are open from this address; close a tab.",
    "zh-CN": "此地址打开的实时更新连接过多，请关闭一个标签页。" },
  SERVICE_UNAVAILABLE: { en: "The server cannot do this right now; try again in a moment.",
    "zh-CN": "服务器暂时无法处理，请稍后重试。" },
  DATABASE_BUSY: { en: "The database is busy; try again in a moment.", "zh-CN": "数据库繁忙，请稍后重试。" },
  STORAGE_FAILED: { en: "The server could not write to its disk.", "zh-CN": "服务器无法写入磁盘。" },
  TOKEN_EXPIRED: { en: "Your session has expired; log in again.", "zh-CN": "会话已过期，请重新登录。" },
  TOKEN_INVALID: { en: "Your login is no longer valid; log in again.", "zh-CN": "登录已失效，请重新登录。" },
  TOKEN_REVOKED: { en: "This session ended because the gallery password changed; log in again.",
    "zh-CN": "相册密码已更改，会话已结束，请重新登录。" },
  CSRF_FAILED: { en: "The page's security check failed; reload the page.", "zh-CN": "页面安全校验失败，请刷新页面。" },
  INVALID_CREDENTIALS: { en: "The password is not correct.", "zh-CN": "密码不正确。" },
  ADMIN_SECRET_INVALID: { en: "The admin secret is not correct.", "zh-CN": "管理员密钥不正确。" },
  ADMIN_REQUIRED: { en: "This needs the admin secret.", "zh-CN": "此操作需要管理员密钥。" },
  LOGIN_LOCKED: { en: "Too many failed attempts from your address; wait before trying again.",
    "zh-CN": "你的地址失败次数过多，请稍后再试。" },
  PASSWORD_DISABLED: { en: "This gallery has no password; no login is needed.", "zh-CN": "这个相册没有密码，无需登录。" },
  ADMIN_SECRET_NOT_CONFIGURED: { en: "Admin actions are off: set PHOTONIX_ADMIN_SECRET on the server and restart it.",
    "zh-CN": "管理功能未启用：请在服务器上设置 PHOTONIX_ADMIN_SECRET 并重启。" },
  LIMITER_UNAVAILABLE: { en: "Logins are paused: the login protection store is not reachable.",
    "zh-CN": "登录已暂停：无法连接登录保护存储。" },
  FETCH_FAILED: { en: "The remote server could not be reached or answered with an error.",
    "zh-CN": "无法连接远程服务器，或它返回了错误。", detailed: true },
  FETCH_REFUSED: { en: "This address may not be fetched: only public http/https hosts are allowed.",
    "zh-CN": "不允许访问这个地址：只能访问公开的 http/https 主机。", detailed: true },
  FETCH_TIMEOUT: { en: "The remote server was too slow to answer.", "zh-CN": "远程服务器响应太慢。", detailed: true },
  FETCH_TOO_LARGE: { en: "The remote answer is larger than the configured limit.",
    "zh-CN": "远程返回的内容超过了设置的上限。", detailed: true },
  FEED_INVALID: { en: "The feed could not be read as RSS or Atom.", "zh-CN": "无法把订阅解析为 RSS 或 Atom。",
    detailed: true },
  IMAGE_REJECTED: { en: "The downloaded file is not an acceptable image.", "zh-CN": "下载的文件不是可接受的图片。",
    detailed: true },
  CONFLICT: { en: "This would conflict with something that already exists.", "zh-CN": "这与已有的内容冲突。",
    detailed: true },
  SHARE_SCOPE: { en: "This shared link does not include this.", "zh-CN": "此共享链接不包含这些内容。" },
  SHARE_EXPIRED: { en: "This shared link has expired.", "zh-CN": "此共享链接已过期。" },
  SHARE_REVOKED: { en: "This shared link was revoked.", "zh-CN": "此共享链接已被撤销。" },
  SHARE_PASSWORD_REQUIRED: { en: "This shared link needs its password.", "zh-CN": "此共享链接需要密码。" },
  SHARE_PASSWORD_INVALID: { en: "The password for this shared link is not correct.", "zh-CN": "此共享链接的密码不正确。" },
  DOWNLOADS_DISABLED: { en: "Downloading is turned off here.", "zh-CN": "此处已关闭下载。" },
  ALBUM_DELETE_DISABLED: { en: "Moving albums to the trash is turned off in the settings.",
    "zh-CN": "设置中已关闭将相册移到回收站。" },
  AI_NOT_CONFIGURED: { en: "AI captions are not set up on this server.", "zh-CN": "此服务器尚未设置 AI 描述。" },
  AI_UNAVAILABLE: { en: "The AI server could not describe this photo.", "zh-CN": "AI 服务器无法描述这张照片。",
    detailed: true },
  AI_QUOTA: { en: "You have used today's AI captions; try again tomorrow.", "zh-CN": "今天的 AI 描述次数已用完，请明天再试。" },
  NOT_A_PHOTO: { en: "Only photos can be described.", "zh-CN": "只能描述照片。" },
};

// Answers without a JSON error body (a proxy's 502 page, a restart in progress): worded by their status.
const STATUS_CODES = { 400: "BAD_REQUEST", 401: "AUTH_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE",
  429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 502: "SERVICE_UNAVAILABLE", 503: "SERVICE_UNAVAILABLE",
  504: "SERVICE_UNAVAILABLE" };

/** The reader's message for an error answer `{ status, body }` (body: the server's {code, message, …} or {}). */
export function describeError({ status, body = {} }) {
  const entry = ERROR_WORDS[body.code || STATUS_CODES[status]];
  if (!entry) return body.message || t("error.unknown", { status });
  const lang = language();
  if (lang === "en" && entry.detailed && body.message) return body.message;
  const text = entry[lang] || entry.en;
  const vars = { field: body.field ?? "", seconds: body.retryAfterSeconds ?? "", status };
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}
