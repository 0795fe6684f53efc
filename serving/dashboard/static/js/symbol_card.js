// One watched symbol: its stream, bounded buffers and three charts (p_up and position; each
// component's p_up and weight; realised outcomes), redrawn at most once per animation frame.
import { color, makeChart, pointsOnly, timeAxis, valueAxis } from "./charts.js";
import { clear, el, num, pct, setText, when } from "./dom.js";
import { countFrame, schedule, cancel, SeriesBuffer } from "./render.js";
import { SymbolStream } from "./stream.js";

/** Points kept per chart: 2 minutes at 10 predictions/s. */
export const CAPACITY = 1200;
const OUTCOME_CAPACITY = 600;
const RECENT_OUTCOMES = 6;
const KNOWN_PREDICTIONS = 4000;

/** Text (headline, tables, lists) is rewritten at most this often; charts every frame. */
const TEXT_EVERY_MS = 250;

const now = () => (performance.timeOrigin + performance.now()) / 1000;

export class SymbolCard {
  constructor(api, symbol, { onRemove, onDrift, onStreamState, onRefused }) {
    this.api = api;
    this.symbol = symbol;
    this.onDrift = onDrift;
    this.onStreamState = onStreamState;
    this.predictions = 0;
    this.outcomes = 0;
    this.drifts = 0;
    this.latest = null;
    this.cumPnl = 0;
    this.recent = [];
    this.pUpById = new Map();
    this.pred = new SeriesBuffer(CAPACITY, 2); // position, p_up
    this.comp = new SeriesBuffer(CAPACITY, 0); // per component: p_up, weight (added as seen)
    this.componentCols = new Map(); // name -> {p, w} column indexes
    this.out = new SeriesBuffer(OUTCOME_CAPACITY, 2); // pnl per trade, cumulative pnl
    this.dirty = { pred: false, comp: false, out: false, text: false };
    this.componentsChanged = false;
    this.visible = true; // until the board's IntersectionObserver says otherwise
    this.lastTextAt = 0;
    this.textTimer = null;
    this._build(onRemove);
    this.stream = new SymbolStream(api, symbol, {
      onFrame: (frame) => this._frame(frame),
      onState: (state, info) => this._state(state, info),
      onRefused: (message) => onRefused?.(message),
      onGap: (frame) => this._gap(frame),
    });
  }

  _build(onRemove) {
    this.stateBadge = el("span", { class: "badge state-connecting", "data-testid": "stream-state" }, "connecting");
    this.seqText = el("span", { class: "muted" });
    this.headline = el("div", { class: "headline", "data-testid": "headline" }, "waiting for the first prediction…");
    this.driftBadge = el("span", { class: "badge drift", hidden: true, "data-testid": "symbol-drift" });
    this.note = el("p", { class: "note", hidden: true });
    this.predBox = el("div", { class: "chart", "data-testid": "chart-prediction" });
    this.compBox = el("div", { class: "chart", "data-testid": "chart-components" });
    this.outBox = el("div", { class: "chart", "data-testid": "chart-outcomes" });
    this.compTable = el("tbody");
    this.outList = el("ol", { class: "log", "data-testid": "outcomes" });
    this.root = el(
      "article",
      { class: "symbol-card", dataset: { symbol: this.symbol, predictions: "0", outcomes: "0", points: "0", state: "connecting" } },
      el(
        "header",
        { class: "symbol-head" },
        el("h3", {}, this.symbol),
        this.stateBadge,
        this.driftBadge,
        this.seqText,
        el("button", { type: "button", class: "linkish", "aria-label": `stop watching ${this.symbol}`, onclick: () => onRemove(this.symbol) }, "remove"),
      ),
      this.headline,
      this.note,
      el("div", { class: "chart-grid" },
        el("figure", {}, el("figcaption", {}, "p_up and position"), this.predBox),
        el("figure", {}, el("figcaption", {}, "components: p_up (solid) and weight (dashed)"), this.compBox),
        el("figure", {}, el("figcaption", {}, "realised outcomes: PnL per trade and cumulative"), this.outBox),
      ),
      el("div", { class: "two-col" },
        el("div", { class: "scroll" },
          el("table", { class: "table compact", "data-testid": "components" },
            el("thead", {}, el("tr", {}, el("th", {}, "component"), el("th", {}, "kind"), el("th", {}, "version"), el("th", {}, "weight"), el("th", {}, "p_up"))),
            this.compTable)),
        el("div", {}, el("h4", {}, "recent outcomes"), this.outList),
      ),
    );
  }

  /** Charts need the card in the document to know their width. */
  mount() {
    this.predChart = makeChart(
      this.predBox,
      {
        scales: { x: { time: true }, p: { range: [0, 1] }, pos: { range: [-1, 1] } },
        // The position is a function of p_up: drawn as a filled exposure area under the
        // p_up line, so that the two stay readable where their scales make them coincide.
        series: [
          {},
          { label: "position", scale: "pos", stroke: "#f59e0b", width: 1, fill: "rgba(245, 158, 11, 0.18)" },
          { label: "p_up", scale: "p", stroke: "#2563eb", width: 2 },
        ],
        axes: [timeAxis, valueAxis("p"), valueAxis("pos", { side: 1, grid: false })],
      },
      this.pred.columns,
    );
    this._buildComponentChart();
    this.outChart = makeChart(
      this.outBox,
      {
        scales: { x: { time: true }, pnl: {}, cum: {} },
        series: [
          {},
          pointsOnly("PnL per trade", "#16a34a", "pnl"),
          { label: "cumulative PnL", scale: "cum", stroke: "#6b7280", width: 1.5 },
        ],
        axes: [timeAxis, valueAxis("pnl", { digits: 4 }), valueAxis("cum", { side: 1, grid: false, digits: 4 })],
      },
      this.out.columns,
    );
    this.stream.start();
  }

  _buildComponentChart() {
    this.compChart?.destroy();
    clear(this.compBox);
    const series = [{}];
    for (const [name, cols] of this.componentCols) {
      const stroke = color(cols.index);
      series[cols.p] = { label: `${name} p_up`, scale: "y", stroke, width: 1.5 };
      series[cols.w] = { label: `${name} weight`, scale: "y", stroke, width: 1, dash: [5, 4] };
    }
    this.compChart = makeChart(
      this.compBox,
      { scales: { x: { time: true }, y: { range: [0, 1] } }, series, axes: [timeAxis, valueAxis("y")] },
      this.comp.columns,
    );
    this.componentsChanged = false;
  }

  /** Off-screen cards keep their buffers but are not drawn until they scroll into view. */
  setVisible(visible) {
    this.visible = visible;
    if (visible && Object.values(this.dirty).some(Boolean)) schedule(this, () => this.draw());
  }

  destroy() {
    this.stream.stop();
    cancel(this);
    clearTimeout(this.textTimer);
    this.predChart?.destroy();
    this.compChart?.destroy();
    this.outChart?.destroy();
    this.root.remove();
  }

  _frame(frame) {
    countFrame();
    if (frame.type === "prediction") this._prediction(frame);
    else if (frame.type === "outcome") this._outcome(frame);
    else if (frame.type === "drift") this._drift(frame);
    else return;
    // The counters are cheap and always current (the browser tests read them).
    const ds = this.root.dataset;
    ds.predictions = String(this.predictions);
    ds.outcomes = String(this.outcomes);
    ds.points = String(this.pred.length);
    ds.lastSeq = String(this.stream.lastSeq ?? "");
    if (this.visible) schedule(this, () => this.draw());
  }

  _prediction(p) {
    if (p.symbol !== undefined && p.symbol !== this.symbol) return; // never another symbol's
    const t = now();
    this.predictions += 1;
    this.latest = p;
    this.pred.push(t, [finite(p.position), finite(p.p_up)]);
    const comps = Array.isArray(p.components) ? p.components : [];
    for (const c of comps) {
      if (c && typeof c.name === "string" && !this.componentCols.has(c.name)) {
        const index = this.componentCols.size;
        const pCol = this.comp.addSeries();
        const wCol = this.comp.addSeries();
        this.componentCols.set(c.name, { index, p: pCol, w: wCol });
        this.componentsChanged = true;
      }
    }
    const row = new Array(this.comp.columns.length - 1).fill(null);
    for (const c of comps) {
      const cols = c && this.componentCols.get(c.name);
      if (!cols) continue;
      row[cols.p - 1] = finite(c.p_up);
      row[cols.w - 1] = finite(c.weight);
    }
    this.comp.push(t, row);
    if (p.prediction_id) {
      this.pUpById.set(p.prediction_id, p.p_up);
      if (this.pUpById.size > KNOWN_PREDICTIONS) this.pUpById.delete(this.pUpById.keys().next().value);
    }
    this.dirty.pred = this.dirty.comp = this.dirty.text = true;
  }

  _outcome(o) {
    const t = now();
    this.outcomes += 1;
    const pnl = finite(o.pnl);
    if (pnl !== null) this.cumPnl += pnl;
    this.out.push(t, [pnl, this.cumPnl]);
    this.recent.unshift(o);
    this.recent.length = Math.min(this.recent.length, RECENT_OUTCOMES);
    this.dirty.out = this.dirty.text = true;
  }

  _drift(d) {
    this.drifts += 1;
    this.lastDrift = d;
    this.onDrift?.(d);
    this.dirty.text = true;
  }

  _gap(frame) {
    this.note.hidden = false;
    setText(this.note, `Frames ${frame.from}–${frame.to} were missed while disconnected (older than the server keeps).`);
  }

  _state(state, info) {
    this.root.dataset.state = state;
    const labels = {
      connecting: "connecting",
      reconnecting: "reconnecting",
      live: "live",
      down: "disconnected",
      refused: "refused",
      stopped: "stopped",
    };
    setText(this.stateBadge, labels[state] ?? state);
    this.stateBadge.className = `badge state-${state}`;
    if (state === "live") setText(this.seqText, `seq ${info.hello?.seq ?? "–"} at connect`);
    this.onStreamState?.(this.symbol, state, info);
  }

  draw() {
    if (!this.visible) return;
    if (this.componentsChanged) this._buildComponentChart();
    if (this.dirty.pred) {
      this.predChart.setData(this.pred.columns);
      this.root.dataset.drawnPoints = String(this.pred.length);
    }
    if (this.dirty.comp) this.compChart.setData(this.comp.columns);
    if (this.dirty.out) this.outChart.setData(this.out.columns);
    this.dirty.pred = this.dirty.comp = this.dirty.out = false;
    if (!this.dirty.text) return;
    const wait = this.lastTextAt + TEXT_EVERY_MS - performance.now();
    if (wait > 0) {
      // Numbers changing 10 times a second are unreadable anyway, and text means layout.
      if (!this.textTimer) {
        this.textTimer = setTimeout(() => {
          this.textTimer = null;
          schedule(this, () => this.draw());
        }, wait);
      }
      return;
    }
    this.lastTextAt = performance.now();
    this.dirty.text = false;
    this._drawText();
    this.root.dataset.shownPredictions = String(this.predictions);
  }

  _drawText() {
    const p = this.latest;
    if (p) {
      const session = p.session
        ? ` · session ${p.session.samples_seen} samples, checkpoint ${num(p.session.checkpoint_age_s, 1)} s old`
        : "";
      setText(
        this.headline,
        `p_up ${num(p.p_up)} (${p.direction ?? "–"}, confidence ${num(p.confidence)}) · position ${num(p.position)} · ` +
          `${p.strategy ?? "–"} · regime ${p.regime ?? "–"}${session} · served ${when(p.served_at)}`,
      );
      this._drawComponents(p.components || []);
    }
    if (this.lastDrift) {
      this.driftBadge.hidden = false;
      const d = this.lastDrift;
      setText(this.driftBadge, `drift: ${d.model_id ?? "?"} (${d.reason ?? "drift"}) ${when(d.detected_at)}`);
    }
    if (this.shownOutcomes === this.outcomes) return;
    this.shownOutcomes = this.outcomes;
    clear(this.outList);
    for (const o of this.recent) {
      const matched = o.prediction_id && this.pUpById.has(o.prediction_id);
      this.outList.append(
        el(
          "li",
          {},
          `${o.trade_id ?? "?"} · ${o.model_id ?? "session"} · return ${pct(o.realized_return, 2)} · ` +
            `PnL ${num(o.pnl, 5)} · position ${num(o.position)}` +
            (matched ? ` · predicted p_up ${num(this.pUpById.get(o.prediction_id))}` : ""),
        ),
      );
    }
  }

  _drawComponents(components) {
    // Rows are rebuilt only when the set of components changes; otherwise only texts move.
    const names = components.map((c) => c.name).join("\u0000");
    if (names !== this.componentRowsKey) {
      this.componentRowsKey = names;
      clear(this.compTable);
      for (let i = 0; i < components.length; i++) {
        this.compTable.append(el("tr", {}, ...Array.from({ length: 5 }, () => el("td"))));
      }
    }
    components.forEach((c, i) => {
      const cells = this.compTable.rows[i].cells;
      setText(cells[0], c.name);
      setText(cells[1], c.kind);
      setText(cells[2], c.version ?? "–");
      setText(cells[3], num(c.weight));
      setText(cells[4], num(c.p_up));
    });
  }
}

function finite(value) {
  const v = Number(value);
  return value === null || value === undefined || !Number.isFinite(v) ? null : v;
}
