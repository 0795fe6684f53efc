// The online sessions and their prequential metrics, read from GET /sessions every few seconds.
import { clear, duration, el, num, pct, when } from "./dom.js";
import { PolledPanel } from "./polled.js";

const POLL_MS = 5000;

export class SessionsPanel extends PolledPanel {
  constructor(api, { onSymbols }) {
    super(api, "/sessions", POLL_MS, "sessions");
    this.onSymbols = onSymbols;
  }

  show(sessions) {
    clear(this.tbody);
    const sorted = sessions.slice().sort((a, b) => String(a.symbol).localeCompare(String(b.symbol)));
    for (const s of sorted) {
      this.tbody.append(
        el("tr", { dataset: { session: s.session_id, symbol: s.symbol } },
          el("td", { title: s.session_id }, String(s.session_id ?? "").slice(0, 12)),
          el("td", {}, s.symbol),
          el("td", {}, s.model_type ?? "–"),
          el("td", { dataset: { field: "samples_seen" } }, s.samples_seen ?? "–"),
          el("td", {}, pct(s.rolling_accuracy)),
          el("td", {}, num(s.rolling_log_loss)),
          el("td", {}, num(s.realized_pnl, 5)),
          el("td", {}, num(s.rolling_sharpe, 2)),
          el("td", {}, duration(s.checkpoint_age_s)),
          el("td", {}, when(s.last_drift_at)),
          el("td", {}, when(s.updated_at))),
      );
    }
    this.empty.hidden = sessions.length > 0;
    this.onSymbols?.(sessions.map((s) => s.symbol).filter(Boolean));
  }
}
