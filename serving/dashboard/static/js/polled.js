// A panel that reads one API path every few seconds and shows the answer; a failed read is
// said in the panel's "updated" line and the last answer stays on screen.
import { setText } from "./dom.js";

export class PolledPanel {
  /**
   * @param {import("./api.js").Api} api
   * @param {string} path      e.g. "/sessions"
   * @param {number} everyMs
   * @param {string} prefix    id prefix of the panel's elements: <prefix>-rows, -empty, -updated
   */
  constructor(api, path, everyMs, prefix) {
    this.api = api;
    this.path = path;
    this.everyMs = everyMs;
    this.tbody = document.getElementById(`${prefix}-rows`);
    this.empty = document.getElementById(`${prefix}-empty`);
    this.updated = document.getElementById(`${prefix}-updated`);
    this.timer = null;
  }

  start() {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.everyMs);
  }

  stop() {
    clearInterval(this.timer);
  }

  async refresh() {
    let answer;
    try {
      answer = await this.api.get(this.path);
    } catch (err) {
      setText(this.updated, `could not read ${this.path}: ${err.message}`);
      return;
    }
    if (!Array.isArray(answer)) return;
    setText(this.updated, `read ${new Date().toLocaleTimeString()}`);
    this.show(answer);
  }

  /** Show a list the API answered (subclasses). */
  show(_list) {}
}
