// The page's only door to the serving API: every request carries the key as a bearer token,
// errors become ApiError with the API's own message, and a refused key or an unreachable API
// is reported once to whoever listens (the key gate, the connection banner).

const KEY_STORAGE = "online-learning.dashboard.api-key";

export const keyStore = {
  get() {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null; // storage disabled: the key lives in memory only
    }
  },
  set(key) {
    try {
      sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      /* kept in memory by the caller */
    }
  },
  clear() {
    try {
      sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      /* nothing stored */
    }
  },
};

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the API could not be reached at all
    this.body = body;
  }
}

/** The message of a FastAPI error body: {"detail": "..."} or a 422 list of {loc, msg}. */
export function errorMessage(body, fallback) {
  if (!body || typeof body !== "object") return fallback;
  const detail = body.detail;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item) => {
        if (!item || typeof item !== "object") return String(item);
        const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        return loc ? `${loc}: ${item.msg}` : String(item.msg ?? "");
      })
      .join("; ");
  }
  return fallback;
}

export class Api {
  /**
   * @param {string} root  the app's root path ("" unless served behind a prefix)
   * @param {string} key   the API key
   * @param {{onUnauthorized?: (msg: string) => void, onReachable?: (ok: boolean, msg?: string) => void}} hooks
   */
  constructor(root, key, hooks = {}) {
    this.root = root;
    this.key = key;
    this.hooks = hooks;
  }

  url(path) {
    return `${this.root}/api/v1${path}`;
  }

  async request(method, path, body = undefined, { quiet401 = false, timeoutMs = 15000 } = {}) {
    const headers = { Authorization: `Bearer ${this.key}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    init.signal = controller.signal;
    let response;
    try {
      response = await fetch(this.url(path), init);
    } catch (err) {
      const why = err && err.name === "AbortError" ? `no answer in ${timeoutMs / 1000} s` : "network error";
      const message = `Cannot reach the serving API (${why}).`;
      this.hooks.onReachable?.(false, message);
      throw new ApiError(0, message);
    } finally {
      clearTimeout(timer);
    }
    this.hooks.onReachable?.(true);
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message = errorMessage(data, `${response.status} ${response.statusText || "error"}`);
      if (response.status === 401 && !quiet401) this.hooks.onUnauthorized?.(message);
      throw new ApiError(response.status, message, data);
    }
    return data;
  }

  get(path, options) {
    return this.request("GET", path, undefined, options);
  }

  post(path, body, options) {
    return this.request("POST", path, body, options);
  }

  /** The WebSocket URL of a symbol's stream, resuming after `since` when given. */
  streamUrl(symbol, { since = null, epoch = null, withToken = false } = {}) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams();
    if (since !== null && since !== undefined) {
      params.set("since", String(since));
      // Sequence numbers hold within one server life: a restarted one replays all it has.
      if (epoch) params.set("epoch", String(epoch));
    }
    if (withToken) params.set("token", this.key);
    const query = params.toString();
    const path = `${this.root}/api/v1/streaming/${encodeURIComponent(symbol)}`;
    return `${scheme}//${location.host}${path}${query ? `?${query}` : ""}`;
  }
}
