// The connection banner: says, while it lasts, that the API or a stream is down and that the
// page is reconnecting by itself; then, for a few seconds, that it is back.
import { setText } from "./dom.js";

const RECOVERED_MS = 8000;

export class Banner {
  constructor(node) {
    this.node = node;
    this.apiDown = null; // message while the HTTP API is unreachable
    this.down = new Map(); // symbol -> {reason, retryAt, attempt}
    this.recoveredTimer = null;
    this.outages = 0;
    this.tick = setInterval(() => this._render(), 1000);
  }

  api(ok, message) {
    const was = this.apiDown;
    this.apiDown = ok ? null : message || "The serving API is unreachable.";
    if (was && ok) this._recovered("Reconnected: the serving API answers again.", { weak: true });
    else if (!was && !ok) this.outages += 1;
    this._render();
  }

  stream(symbol, state, info) {
    if (state === "down") {
      if (!this.down.has(symbol) && this.down.size === 0 && !this.apiDown) this.outages += 1;
      this.down.set(symbol, info);
    } else if (state === "live") {
      const was = this.down.delete(symbol);
      if ((was || info.resumed) && this.down.size === 0) {
        const seq = info.hello && Number.isInteger(info.hello.seq) ? ` (server at seq ${info.hello.seq})` : "";
        this._recovered(`Reconnected: the stream of ${symbol} is live again${seq}.`);
      }
    } else if (state === "stopped" || state === "refused") {
      this.down.delete(symbol);
    }
    this._render();
  }

  _recovered(message, { weak = false } = {}) {
    // A stream back is the news; the API answering again does not hide it.
    if (weak && this.recovered && !this.recoveredWeak) {
      this._armRecovered();
      return;
    }
    this.recovered = message;
    this.recoveredWeak = weak;
    this._armRecovered();
  }

  /** "Reconnected" stays up for a while from the moment nothing is down any more. */
  _armRecovered() {
    clearTimeout(this.recoveredTimer);
    this.recoveredTimer = setTimeout(() => {
      if (this.apiDown || this.down.size) return; // kept, and re-armed once all is back
      this.recovered = null;
      this._render();
    }, RECOVERED_MS);
  }

  _render() {
    const node = this.node;
    node.dataset.outages = String(this.outages);
    const isDown = Boolean(this.apiDown || this.down.size);
    if (this.wasDown && !isDown && this.recovered) this._armRecovered();
    this.wasDown = isDown;
    if (isDown) {
      const symbols = [...this.down.keys()];
      const next = Math.min(...[...this.down.values()].map((i) => i.retryAt ?? Infinity));
      const wait = Number.isFinite(next) ? Math.max(0, Math.ceil((next - Date.now()) / 1000)) : null;
      const attempt = Math.max(0, ...[...this.down.values()].map((i) => i.attempt ?? 0));
      const parts = [];
      if (symbols.length) {
        const reason = this.down.get(symbols[0])?.reason;
        parts.push(`Connection lost: the stream${symbols.length > 1 ? "s" : ""} of ${symbols.join(", ")} ${symbols.length > 1 ? "are" : "is"} down${reason ? ` (${reason})` : ""}.`);
      }
      if (this.apiDown) parts.push(this.apiDown);
      parts.push(
        wait === null
          ? "Reconnecting by itself…"
          : `Reconnecting by itself: next try ${wait ? `in ${wait} s` : "now"}${attempt ? ` (attempt ${attempt})` : ""}.`,
      );
      node.hidden = false;
      node.dataset.state = "down";
      node.className = "banner down";
      setText(node, parts.join(" "));
    } else if (this.recovered) {
      node.hidden = false;
      node.dataset.state = "reconnected";
      node.className = "banner ok";
      setText(node, this.recovered);
    } else {
      node.hidden = true;
      node.dataset.state = "";
      setText(node, "");
    }
  }

  reset() {
    this.apiDown = null;
    this.down.clear();
    this.recovered = null;
    this._render();
  }
}
