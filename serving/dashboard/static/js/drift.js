// Drift per model and symbol: /drift/status every few seconds, merged with the drift frames of
// the watched symbols' streams as they arrive (a live frame shows at once, and is kept until the
// status catches up with it).
import { clear, el, when } from "./dom.js";
import { PolledPanel } from "./polled.js";
import { schedule } from "./render.js";

const POLL_MS = 10000;
const LOG_LENGTH = 20;

const keyOf = (model, symbol) => `${model}\u0000${symbol}`;

export class DriftPanel extends PolledPanel {
  constructor(api) {
    super(api, "/drift/status", POLL_MS, "drift");
    this.rows = new Map(); // key -> status row (DriftStatus.to_dict() shape)
    this.live = new Map(); // key -> newest live drift frame
    this.log = [];
    this.logList = document.getElementById("drift-log");
    this.symbols = new Set();
  }

  show(list) {
    this.rows.clear();
    for (const row of list) {
      if (row && row.model_id && row.symbol) this.rows.set(keyOf(row.model_id, row.symbol), row);
      if (row?.symbol) this.symbols.add(row.symbol);
    }
    schedule(this, () => this.draw());
  }

  /** A drift frame from a stream. */
  frame(d) {
    if (!d || !d.model_id || !d.symbol) return;
    this.live.set(keyOf(d.model_id, d.symbol), d);
    this.log.unshift(d);
    this.log.length = Math.min(this.log.length, LOG_LENGTH);
    schedule(this, () => this.draw());
  }

  draw() {
    const merged = new Map();
    for (const [key, row] of this.rows) merged.set(key, { ...row, liveFrame: null });
    for (const [key, d] of this.live) {
      const row = merged.get(key);
      const statusAt = row?.last_detection_at ? Date.parse(row.last_detection_at) : -Infinity;
      const frameAt = Date.parse(d.detected_at ?? "") || Date.now();
      if (!row || frameAt > statusAt + 1) {
        merged.set(key, {
          model_id: d.model_id,
          symbol: d.symbol,
          detectors: Object.fromEntries((d.detectors || []).map((n) => [n, { drift_detected: true }])),
          n_outcomes: d.n_outcomes ?? row?.n_outcomes,
          last_detection_at: d.detected_at,
          last_reason: d.reason,
          outcomes_since_detection: 0,
          adaptation_running: row?.adaptation_running ?? false,
          adaptation_status: d.adaptation_requested === false ? "suppressed" : d.adaptation_requested ? "requested" : row?.adaptation_status,
          liveFrame: d,
        });
      } else {
        row.liveFrame = d;
      }
    }
    const rows = [...merged.values()].sort((a, b) => {
      const da = drifting(a), db = drifting(b);
      if (da !== db) return da ? -1 : 1;
      return (Date.parse(b.last_detection_at ?? "") || 0) - (Date.parse(a.last_detection_at ?? "") || 0);
    });
    clear(this.tbody);
    for (const r of rows) {
      const detectors = Object.entries(r.detectors || {}).map(([name, s]) =>
        el("span", { class: s && s.drift_detected ? "det fired" : "det" }, name),
      );
      const state = drifting(r) ? "drifting" : r.last_detection_at ? "stable since" : "stable";
      this.tbody.append(
        el(
          "tr",
          { class: r.liveFrame ? "live" : "", dataset: { model: r.model_id, symbol: r.symbol, state } },
          el("td", {}, r.model_id),
          el("td", {}, r.symbol),
          el("td", {}, el("span", { class: `badge drift-${state.replace(" ", "-")}` }, state)),
          el("td", {}, when(r.last_detection_at)),
          el("td", {}, r.last_reason ?? "–"),
          el("td", {}, detectors.length ? detectors : "–"),
          el("td", {}, r.n_outcomes ?? "–"),
          el("td", {}, r.outcomes_since_detection ?? "–"),
          el("td", {}, r.adaptation_running ? "running" : r.adaptation_status ?? "–"),
        ),
      );
    }
    this.empty.hidden = rows.length > 0;
    clear(this.logList);
    for (const d of this.log) {
      this.logList.append(
        el(
          "li",
          { dataset: { model: d.model_id, symbol: d.symbol } },
          `${when(d.detected_at)} · ${d.model_id} on ${d.symbol} · ${d.reason ?? "drift"} · ` +
            `detectors ${(d.detectors || []).join(", ") || "–"} · after ${d.n_outcomes ?? "?"} outcomes · ` +
            (d.adaptation_requested ? "adaptation requested" : "no adaptation (cool-down)"),
        ),
      );
    }
  }
}

function drifting(r) {
  if (r.liveFrame && r.liveFrame.detected_at === r.last_detection_at) return true;
  return Object.values(r.detectors || {}).some((s) => s && s.drift_detected);
}
