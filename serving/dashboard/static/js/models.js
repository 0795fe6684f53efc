// The models: champion version, update history (validation Sharpe before and after, degradation,
// decision and reason, duration) with a chart across versions, its challenger (named, pending
// with its days and running interval, promoted or retired), realised daily Sharpe from the
// metrics store, and, for an admin key, a button that triggers an online update and watches it.
import { makeChart, pointsOnly, timeAxis, valueAxis } from "./charts.js";
import { clear, duration, el, num, pct, setText, signedPct, when } from "./dom.js";
import { JobWatch, rememberedJobs } from "./jobs.js";

const POLL_MS = 30000;
const HISTORY_ROWS = 10;
// What a challenger's newest record says about it, by the record's reason.
const CHALLENGER_STATES = {
  challenger_named: "named",
  challenger_pending: "pending",
  challenger_better: "promoted",
  challenger_worse: "retired (worse)",
  challenger_inconclusive: "retired (undecided at the horizon)",
};

export class ModelsPanel {
  constructor(api, { isAdmin }) {
    this.api = api;
    this.isAdmin = isAdmin;
    this.cards = new Map();
    this.container = document.getElementById("models");
    this.updated = document.getElementById("models-updated");
    this.timer = null;
  }

  async start() {
    await this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
    if (this.isAdmin) {
      for (const job of rememberedJobs()) this.cards.get(job.model_id)?.watch(job);
    }
  }

  stop() {
    clearInterval(this.timer);
    for (const card of this.cards.values()) card.destroy();
  }

  async refresh() {
    let models;
    try {
      models = await this.api.get("/models");
    } catch (err) {
      setText(this.updated, `could not read /models: ${err.message}`);
      return;
    }
    if (!Array.isArray(models)) return;
    const seen = new Set();
    for (const m of models) {
      if (!m || !m.model_id) continue;
      seen.add(m.model_id);
      let card = this.cards.get(m.model_id);
      if (!card) {
        card = new ModelCard(this.api, m.model_id, { isAdmin: this.isAdmin, onChanged: () => this.refresh() });
        this.cards.set(m.model_id, card);
        this.container.append(card.root);
        card.mount();
      }
      card.update(m);
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.destroy();
        this.cards.delete(id);
      }
    }
    document.getElementById("models-empty").hidden = models.length > 0;
    setText(this.updated, `read ${new Date().toLocaleTimeString()}`);
  }
}

class ModelCard {
  constructor(api, modelId, { isAdmin, onChanged }) {
    this.api = api;
    this.modelId = modelId;
    this.isAdmin = isAdmin;
    this.onChanged = onChanged;
    this.job = null;
    this.champion = el("span", { class: "champion", "data-testid": "champion" });
    this.meta = el("div", { class: "muted" });
    this.lastUpdate = el("div", {});
    this.challenger = el("div", { class: "challenger", "data-testid": "challenger", hidden: true });
    this.historyBody = el("tbody");
    this.historyNote = el("p", { class: "muted" });
    this.perfSummary = el("p", { class: "muted", "data-testid": "performance-summary" });
    this.sharpeBox = el("div", { class: "chart" });
    this.perfBox = el("div", { class: "chart" });
    this.jobs = el("div", { class: "jobs" });
    this.actionError = el("p", { class: "error", role: "alert", hidden: true });
    this.root = el(
      "article",
      { class: "model-card", dataset: { model: modelId } },
      el("header", { class: "symbol-head" }, el("h3", {}, modelId), this.champion),
      this.meta,
      this.lastUpdate,
      this.challenger,
      this.isAdmin ? this._triggerForm() : null,
      this.actionError,
      this.jobs,
      el("div", { class: "chart-grid two" },
        el("figure", {}, el("figcaption", {}, "validation Sharpe across versions"), this.sharpeBox),
        el("figure", {}, el("figcaption", {}, "realised daily Sharpe (rolling 30 days)"), this.perfBox, this.perfSummary),
      ),
      el("details", { class: "history" },
        el("summary", {}, "update history"),
        el("table", { class: "table compact", "data-testid": "history" },
          el("thead", {}, el("tr", {}, ...["recorded", "decision", "version", "Sharpe pre", "Sharpe post", "degradation", "reason", "duration"].map((h) => el("th", {}, h)))),
          this.historyBody),
        this.historyNote),
    );
  }

  mount() {
    this.sharpeChart = makeChart(
      this.sharpeBox,
      {
        // One slot per update, whole steps only, half a step of margin on both sides.
        scales: { x: { time: false, range: (_u, min, max) => [(min ?? 0) - 0.5, (max ?? 0) + 0.5] }, s: {} },
        series: [
          { label: "update" },
          { label: "champion before", scale: "s", stroke: "#6b7280", width: 1.5, points: { show: true, size: 5 } },
          pointsOnly("promoted", "#16a34a", "s"),
          pointsOnly("rolled back", "#dc2626", "s"),
          pointsOnly("deferred", "#a3a3a3", "s"),
        ],
        axes: [
          { ...timeAxis, incrs: [1, 2, 5, 10, 20, 50], values: (_u, splits) => splits.map((i) => this._versionLabel(i)) },
          valueAxis("s"),
        ],
      },
      [[], [], [], [], []],
    );
    this.perfChart = makeChart(
      this.perfBox,
      {
        scales: { x: { time: true }, s: {} },
        series: [{}, { label: "rolling Sharpe 30d", scale: "s", stroke: "#2563eb", width: 1.5 }],
        axes: [timeAxis, valueAxis("s")],
      },
      [[], []],
    );
  }

  destroy() {
    this.job?.stop();
    this.sharpeChart?.destroy();
    this.perfChart?.destroy();
    this.root.remove();
  }

  _versionLabel(i) {
    if (!Number.isInteger(i) || !this.historyChrono || !this.historyChrono[i]) return "";
    const r = this.historyChrono[i];
    return r.version ? `v${r.version}` : `#${i + 1}`;
  }

  update(m) {
    const changed = this.lastSeen !== JSON.stringify(m);
    this.lastSeen = JSON.stringify(m);
    setText(this.champion, m.champion_version ? `champion v${m.champion_version}` : "no champion");
    this.root.dataset.champion = m.champion_version ?? "";
    setText(this.meta, `regime ${m.regime ?? "–"} · ${(m.feature_names || []).length} features`);
    const u = m.last_update;
    setText(this.lastUpdate, u ? `last update: ${u.decision} v${u.version ?? "–"} ${when(u.at)}` : "no update recorded yet");
    if (changed || !this.loadedAt || Date.now() - this.loadedAt > 60000) this.loadDetails();
  }

  async loadDetails() {
    this.loadedAt = Date.now();
    const id = encodeURIComponent(this.modelId);
    const [history, perf] = await Promise.allSettled([
      this.api.get(`/models/${id}/history?limit=50`),
      this.api.get(`/models/${id}/performance?days=90`),
    ]);
    if (history.status === "fulfilled" && Array.isArray(history.value)) this._history(history.value);
    else setText(this.historyNote, `could not read the history: ${history.reason?.message ?? "unexpected answer"}`);
    if (perf.status === "fulfilled" && perf.value) this._performance(perf.value);
    else setText(this.perfSummary, `no realised performance: ${perf.reason?.message ?? "unexpected answer"}`);
  }

  _challenger(rows) {
    // The newest record that named, judged or decided a challenger (rows come newest first).
    const r = rows.find((row) => row.challenger_version);
    this.challenger.hidden = !r;
    this.challenger.dataset.state = r?.reason ?? "";
    if (!r) return;
    const low = r.challenger_low;
    const high = r.challenger_high;
    const interval = Number.isFinite(low) && Number.isFinite(high)
      ? ` · net return difference ${pct((low + high) / 2)} a year, any-time interval [${pct(low)}, ${pct(high)}]`
      : "";
    setText(this.challenger,
      `challenger v${r.challenger_version} ${CHALLENGER_STATES[r.reason] ?? r.reason} · day ${r.challenger_days ?? 0}${interval}`);
  }

  _history(rows) {
    this._challenger(rows);
    clear(this.historyBody);
    for (const r of rows.slice(0, HISTORY_ROWS)) {
      this.historyBody.append(
        el("tr", { dataset: { decision: r.decision ?? "" } },
          el("td", {}, when(r.recorded_at)),
          el("td", {}, el("span", { class: `badge job-${r.decision}` }, (r.decision ?? "–").replace("_", " "))),
          el("td", {}, r.previous_version && r.version && r.previous_version !== r.version ? `v${r.previous_version} → v${r.version}` : r.version ? `v${r.version}` : "–"),
          el("td", {}, num(r.sharpe_pre)),
          el("td", {}, num(r.sharpe_post)),
          el("td", {}, signedPct(r.degradation_pct)),
          el("td", {}, r.reason ?? "–"),
          el("td", {}, duration(r.duration_s))),
      );
    }
    setText(this.historyNote, rows.length > HISTORY_ROWS ? `${HISTORY_ROWS} newest of ${rows.length} shown` : rows.length ? "" : "no update yet");
    this.historyChrono = rows.slice().reverse();
    const xs = this.historyChrono.map((_r, i) => i);
    const pick = (decision) => this.historyChrono.map((r) => (r.decision === decision ? finite(r.sharpe_post) : null));
    this.sharpeChart.setData([xs, this.historyChrono.map((r) => finite(r.sharpe_pre)), pick("promoted"), pick("rolled_back"), pick("deferred")]);
  }

  _performance(p) {
    const days = Array.isArray(p.days) ? p.days : [];
    const xs = [];
    const ys = [];
    for (const d of days) {
      const t = Date.parse(d.date);
      if (Number.isNaN(t)) continue;
      xs.push(t / 1000);
      ys.push(finite(d.rolling_sharpe_30d));
    }
    this.perfChart.setData([xs, ys]);
    const s = p.summary || {};
    setText(this.perfSummary, days.length
      ? `${s.n_days ?? days.length} days · Sharpe ${num(s.sharpe, 2)} · hit rate ${num(s.hit_rate, 2)} · max drawdown ${num(s.max_drawdown, 4)}`
      : "no realised daily performance recorded yet");
  }

  _triggerForm() {
    const lr = el("input", { type: "number", step: "any", min: "0", placeholder: "default", name: "learning_rate" });
    const lambda = el("input", { type: "number", step: "any", min: "0", placeholder: "default", name: "ewc_lambda" });
    const start = el("input", { type: "date", name: "start" });
    const end = el("input", { type: "date", name: "end" });
    const check = el("input", { type: "checkbox", name: "stability_check", checked: true });
    this.triggerButton = el("button", { type: "submit", "data-testid": "trigger-update" }, "Trigger online update");
    const form = el(
      "form",
      { class: "trigger" },
      this.triggerButton,
      el("details", {}, el("summary", {}, "options"),
        el("label", {}, "learning rate ", lr),
        el("label", {}, "EWC lambda ", lambda),
        el("label", {}, "window start ", start),
        el("label", {}, "window end ", end),
        el("label", {}, check, " stability check")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { model_id: this.modelId, stability_check: check.checked };
      if (lr.value !== "") body.learning_rate = Number(lr.value);
      if (lambda.value !== "") body.ewc_lambda = Number(lambda.value);
      if (start.value || end.value) {
        if (!start.value || !end.value) {
          this._actionError("Update not started: a data window needs both its start and its end.");
          return;
        }
        body.data_window = { start: start.value, end: end.value };
      }
      this.trigger(body);
    });
    return form;
  }

  async trigger(body) {
    this.actionError.hidden = true;
    this.triggerButton.disabled = true;
    let job;
    try {
      job = await this.api.post("/models/online-update", body);
    } catch (err) {
      this.triggerButton.disabled = false;
      const why = {
        403: "this key has no admin scope",
        404: "the API does not know this model",
        409: "an update of this model is already queued or running",
      }[err.status];
      this._actionError(`Update not started: ${why ? `${why} (${err.message})` : err.message}`);
      return;
    }
    this.watch({ ...job, model_id: this.modelId });
  }

  _actionError(message) {
    this.actionError.hidden = false;
    setText(this.actionError, message);
  }

  watch(job) {
    this.job?.stop();
    if (this.triggerButton) this.triggerButton.disabled = true;
    const watch = new JobWatch(this.api, job, () => {
      if (this.triggerButton) this.triggerButton.disabled = false;
      this.onChanged?.();
      this.loadDetails();
    });
    this.job = watch;
    this.jobs.prepend(watch.root);
    while (this.jobs.children.length > 3) this.jobs.lastElementChild.remove();
    watch.start();
  }
}

function finite(value) {
  const v = Number(value);
  return value === null || value === undefined || !Number.isFinite(v) ? null : v;
}
