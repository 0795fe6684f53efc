// One symbol's WebSocket stream: authenticates with the key, resumes after the last sequence
// number it saw (`?since=`), reconnects by itself with capped exponential backoff, and tells
// its owner every state change so the page can say when it is down.

const TOKEN_CHARS = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/; // RFC 7230 token: a valid subprotocol value
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10000;
const CONNECT_TIMEOUT_MS = 10000;
// Close codes the server uses on purpose (CONTRACT.md): 1008 the key is no longer valid,
// 4008 this client fell behind. Anything else (1006 a dropped TCP connection, 1001/1012 a
// server going away) is a connection to reopen.
const CLOSE_POLICY = 1008;
const CLOSE_SLOW = 4008;

export class SymbolStream {
  /**
   * @param {import("./api.js").Api} api
   * @param {string} symbol
   * @param {{onFrame: Function, onState: Function, onRefused: Function, onGap?: Function}} handlers
   */
  constructor(api, symbol, handlers) {
    this.api = api;
    this.symbol = symbol;
    this.handlers = handlers;
    this.ws = null;
    this.lastSeq = null; // the newest seq delivered; resumes with ?since=lastSeq
    this.replica = null; // the server (replica) that numbered them, and its life
    this.epoch = null;
    this.renumbered = 0;
    this.attempt = 0;
    this.retryTimer = null;
    this.connectTimer = null;
    this.stopped = false;
    this.state = "idle";
    this.reconnects = 0;
    this.duplicates = 0;
    this.everLive = false;
    this._onOnline = () => {
      if (this.state === "down") this._retryNow();
    };
    window.addEventListener("online", this._onOnline);
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._onOnline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000, "unsubscribed");
      } catch {
        /* already closed */
      }
    }
    this._setState("stopped");
  }

  _setState(state, info = {}) {
    this.state = state;
    this.handlers.onState?.(state, { symbol: this.symbol, attempt: this.attempt, ...info });
  }

  _connect() {
    if (this.stopped) return;
    const key = this.api.key;
    // Browsers cannot set headers on a WebSocket: the key goes in a subprotocol when it is a
    // valid token (kept out of URLs and access logs), else in the `token` query parameter.
    // The server selects "bearer", which must therefore be offered as well.
    const viaProtocol = TOKEN_CHARS.test(key);
    const url = this.api.streamUrl(this.symbol, {
      since: this.lastSeq,
      epoch: this.epoch,
      withToken: !viaProtocol,
    });
    let ws;
    try {
      ws = viaProtocol ? new WebSocket(url, ["bearer", `bearer.${key}`]) : new WebSocket(url);
    } catch (err) {
      this._scheduleRetry(`cannot open the stream: ${err.message}`);
      return;
    }
    this.ws = ws;
    let opened = false;
    this._setState(this.everLive ? "reconnecting" : "connecting");
    this.connectTimer = setTimeout(() => {
      if (!opened && this.ws === ws) ws.close(); // hung handshake: onclose retries
    }, CONNECT_TIMEOUT_MS);

    ws.onopen = () => {
      opened = true;
      clearTimeout(this.connectTimer);
    };
    ws.onmessage = (event) => this._message(event.data);
    ws.onerror = () => {
      /* followed by onclose, which decides */
    };
    ws.onclose = (event) => {
      clearTimeout(this.connectTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (event.code === CLOSE_POLICY) {
        this._refused(event.reason || "the server closed the stream: the key is no longer valid");
        return;
      }
      if (event.code === CLOSE_SLOW) {
        this.attempt = 0; // not an outage: come back at once and replay what was missed
        this._scheduleRetry("the server closed the stream because this page fell behind", 0);
        return;
      }
      if (!opened) {
        // Refused before accept (HTTP 403) and "host down" look the same to a browser: ask
        // the HTTP API whether the key is still good before retrying.
        this._probeThenRetry();
        return;
      }
      this._scheduleRetry(event.reason || `connection closed (code ${event.code})`);
    };
  }

  _message(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // not JSON: not ours to show
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "hello") {
      const resumed = this.everLive;
      const otherLife =
        (this.replica !== null && frame.replica !== this.replica) ||
        (this.epoch !== null && (frame.epoch ?? null) !== this.epoch);
      if (otherLife || (this.lastSeq !== null && frame.seq < this.lastSeq)) {
        // Another server process (a restart, or another replica) numbers its frames on its
        // own: our `since` means nothing there, and whatever it sends after hello is new.
        this.lastSeq = null;
        this.renumbered += 1;
      }
      this.replica = frame.replica ?? null;
      this.epoch = frame.epoch ?? null;
      this.attempt = 0;
      if (resumed) this.reconnects += 1;
      this.everLive = true;
      this._setState("live", { resumed, hello: frame });
      return;
    }
    if (frame.type === "gap") {
      this.handlers.onGap?.(frame);
      return;
    }
    if (Number.isInteger(frame.seq)) {
      if (this.lastSeq !== null && frame.seq <= this.lastSeq) {
        this.duplicates += 1; // replayed twice around a reconnect: shown once
        return;
      }
      this.lastSeq = frame.seq;
    }
    this.handlers.onFrame?.(frame);
  }

  async _probeThenRetry() {
    try {
      await this.api.get("/auth/me", { quiet401: true, timeoutMs: 5000 });
    } catch (err) {
      if (this.stopped) return;
      if (err.status === 401) {
        this._refused(err.message);
        return;
      }
      this._scheduleRetry(err.status === 0 ? "the API is unreachable" : err.message);
      return;
    }
    if (!this.stopped) this._scheduleRetry("the stream refused to open");
  }

  _refused(message) {
    clearTimeout(this.retryTimer);
    this._setState("refused", { reason: message });
    this.handlers.onRefused?.(message);
  }

  _scheduleRetry(reason, delayMs = null) {
    if (this.stopped) return;
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** this.attempt, MAX_RETRY_MS);
    const delay = delayMs ?? Math.round(backoff * (0.5 + Math.random() * 0.5));
    this.attempt += 1;
    this._setState("down", { reason, retryInMs: delay, retryAt: Date.now() + delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._connect(), delay);
  }

  _retryNow() {
    clearTimeout(this.retryTimer);
    this._connect();
  }
}
