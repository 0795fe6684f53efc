// The integration's five success metrics, the page's first panel: GET /metrics/summary every
// 10 s (the server recomputes it at most that often). Freshness, adaptation speed, online vs
// batch, learning efficiency and business impact, each figure with its one-line definition as
// its tooltip, taken from the API's own declaration (the Headline schema of /openapi.json),
// and "—" with the reason where nothing measured it yet. The tiles are built once and their
// text rewritten in place, so a tooltip being read survives a refresh. Under the impact, a
// sparkline of the answer's impact_curve (cumulative blended and rules-only P&L) once it has
// two points; under the tiles, the newest episodes in a table.
import { makeChart } from "./charts.js";
import { clear, duration, el, pct, setText, when } from "./dom.js";

const POLL_MS = 10000;
const WINDOW_DAYS = 30;
const NONE = "—";
const EPISODE_ROWS = 8;

// Formats (tests/serving/dashboard/test_success_panel.py formats the API's answer alike).
const fmt = {
  days: (v) => `${Number(v).toFixed(1)} d`,
  seconds: (v) => duration(v),
  rate: (v) => pct(v, 1),
  logLoss: (v) => Number(v).toFixed(4),
  pnl: (v) => {
    const text = Number(v).toFixed(4);
    return Number(v) > 0 ? `+${text}` : text;
  },
  count: (n, unit) => `${n} ${unit}${n === 1 ? "" : "s"}`,
};

const known = (v) => v !== undefined && v !== null && Number.isFinite(Number(v));
const subject = (e) => `${e.model_id} on ${e.symbol}`;

/** One figure of a tile: a label, a value (or "—") and a note that says why or from where. */
class Figure {
  constructor(field, label, { fields = [field], wide = false } = {}) {
    this.fields = fields;
    this.value = el("span", { class: "figure-value" }, NONE);
    this.note = el("span", { class: "figure-note" });
    this.root = el("div",
      { class: wide ? "figure wide" : "figure", dataset: { field, state: "none" } },
      el("span", { class: "figure-label" }, label), this.value, this.note);
  }

  define(definitions) {
    const text = this.fields.map((f) => definitions[f]).filter(Boolean).join("\n");
    if (text && this.root.title !== text) this.root.title = text;
  }

  show(text, note = "") {
    setText(this.value, text);
    setText(this.note, note);
    this.root.dataset.state = "value";
  }

  none(reason) {
    setText(this.value, NONE);
    setText(this.note, reason);
    this.root.dataset.state = "none";
  }

  better(flag) {
    this.root.classList.toggle("better", Boolean(flag));
  }
}

function tile(testid, title, figures, { head = null, foot = [], pairs = false } = {}) {
  return el("article", { class: "tile", "data-testid": testid },
    el("h3", {}, title), head,
    el("div", { class: pairs ? "figures pairs" : "figures" }, figures.map((f) => f.root)), foot);
}

export class SuccessPanel {
  constructor(api) {
    this.api = api;
    this.root = document.getElementById("success-panel");
    this.updated = document.getElementById("success-updated");
    this.tiles = document.getElementById("success-tiles");
    this.rows = document.getElementById("success-episode-rows");
    this.episodesNote = document.getElementById("success-episodes-note");
    this.definitions = null;
    this.timer = null;
    this.running = false;
    this.build();
  }

  build() {
    const f = (this.f = {
      dataAge: new Figure("mean_data_age_days", "champion data age"),
      promotionAge: new Figure("mean_promotion_age_days", "since promotion"),
      checkpointAge: new Figure("max_checkpoint_age_s", "oldest checkpoint"),
      detectionOutcomes: new Figure("detection_delay_outcomes", "change → detection"),
      detectionTime: new Figure("detection_delay_s", "change → detection, time"),
      adaptation: new Figure("adaptation_delay_s", "detection → promoted"),
      serving: new Figure("serving_delay_s", "promoted → serving"),
      compared: new Figure("compared_trades", "on the same trades", { wide: true }),
      onlineHit: new Figure("online_hit_rate", "online hit rate"),
      batchHit: new Figure("batch_hit_rate", "batch hit rate"),
      onlineLoss: new Figure("online_log_loss", "online log-loss"),
      batchLoss: new Figure("batch_log_loss", "batch log-loss"),
      recoverOutcomes: new Figure("outcomes_to_recover", "to recover"),
      recoverDays: new Figure("days_to_recover", "trading days"),
      added: new Figure("ml_added_pnl", "ML-added P&L"),
      interval: new Figure("ml_added_interval", "95 % interval",
        { fields: ["ml_added_low", "ml_added_high"], wide: true }),
      impactTrades: new Figure("impact_trades", "trades"),
    });
    this.freshnessFoot = el("p", { class: "tile-foot muted" });
    this.episodeSubject = el("p", { class: "tile-subject", "data-testid": "success-episode" });
    this.recoverySubject = el("p", { class: "tile-subject" });
    this.verdict = el("p", { class: "tile-foot", "data-testid": "success-verdict" });
    this.legs = el("p", { class: "tile-foot muted" });
    this.sparkBox = el("div", { class: "chart" });
    this.spark = el("figure",
      { class: "spark", "data-testid": "success-impact-curve", hidden: true },
      this.sparkBox,
      el("figcaption", {}, "cumulative P&L: ", el("span", { class: "key blended" }, "blended"),
        " ", el("span", { class: "key rules" }, "rules only")));
    this.sparkChart = null;
    this.tiles.replaceChildren(
      tile("success-freshness", "Freshness", [f.dataAge, f.promotionAge, f.checkpointAge],
        { foot: [this.freshnessFoot] }),
      tile("success-adaptation", "Adaptation speed",
        [f.detectionOutcomes, f.detectionTime, f.adaptation, f.serving],
        { head: this.episodeSubject }),
      tile("success-accuracy", "Online vs batch",
        [f.onlineHit, f.batchHit, f.onlineLoss, f.batchLoss, f.compared], { pairs: true }),
      tile("success-efficiency", "Learning efficiency", [f.recoverOutcomes, f.recoverDays],
        { head: this.recoverySubject }),
      tile("success-impact", "Business impact", [f.added, f.impactTrades, f.interval],
        { foot: [this.verdict, this.legs, this.spark] }),
    );
    this.reset();
  }

  start() {
    this.running = true;
    this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  stop() {
    this.running = false;
    clearInterval(this.timer);
    this.timer = null;
    this.reset();
    this.sparkChart?.destroy();
    this.sparkChart = null;
  }

  reset() {
    for (const figure of Object.values(this.f)) figure.none("");
    for (const node of [this.freshnessFoot, this.episodeSubject, this.recoverySubject,
      this.verdict, this.legs, this.updated]) setText(node, "");
    clear(this.rows);
    this.spark.hidden = true;
    delete this.root.dataset.generatedAt;
  }

  async refresh() {
    if (!this.definitions) this.loadDefinitions(); // tooltips whenever it answers
    let summary;
    try {
      summary = await this.api.get(`/metrics/summary?window_days=${WINDOW_DAYS}`);
    } catch (err) {
      if (this.running) setText(this.updated, `could not read /metrics/summary: ${err.message}`);
      return;
    }
    // An answer that arrives after the page closed (key forgotten or refused) is dropped.
    if (this.running && summary?.headline) this.show(summary);
  }

  /** The Headline's field descriptions, from the API's OpenAPI document (one declaration). */
  async loadDefinitions() {
    try {
      const schemas = (await this.api.get("/openapi.json"))?.components?.schemas;
      const props = schemas?.Headline?.properties;
      if (!props) return;
      if (schemas.PnlPoint?.description) this.spark.title = schemas.PnlPoint.description;
      this.definitions = Object.fromEntries(
        Object.entries(props).map(([name, p]) => [name, p?.description ?? ""]),
      );
    } catch {
      return; // no tooltips this time; tried again at the next refresh
    }
    for (const figure of Object.values(this.f)) figure.define(this.definitions);
    for (const th of this.root.querySelectorAll("th[data-fields]")) {
      const names = th.dataset.fields.split(" ");
      th.title = names.map((n) => this.definitions[n]).filter(Boolean).join("\n");
    }
  }

  show(s) {
    const h = s.headline;
    this.root.dataset.generatedAt = s.generated_at;
    setText(this.updated, `last ${WINDOW_DAYS} days · ${fmt.count(s.trades, "trade")} · ` +
      `computed ${when(s.generated_at)}`);
    this.freshness(h, s.freshness || {});
    const episodes = Array.isArray(s.episodes) ? s.episodes : [];
    this.adaptation(episodes);
    this.accuracy(h);
    this.efficiency(episodes);
    this.impact(h, (s.impact || []).find((i) => i.symbol === "*"));
    this.curve(Array.isArray(s.impact_curve) ? s.impact_curve : []);
    this.episodes(episodes);
  }

  freshness(h, fresh) {
    const f = this.f;
    const champions = fresh.champions || [];
    const sessions = fresh.sessions || [];
    const noChampion = "no champion served";
    if (known(h.mean_data_age_days)) f.dataAge.show(fmt.days(h.mean_data_age_days));
    else {
      f.dataAge.none(champions.length ? "no champion says the last day it trained on" : noChampion);
    }
    if (known(h.mean_promotion_age_days)) f.promotionAge.show(fmt.days(h.mean_promotion_age_days));
    else f.promotionAge.none(champions.length ? "no promotion time recorded" : noChampion);
    if (known(h.max_checkpoint_age_s)) f.checkpointAge.show(fmt.seconds(h.max_checkpoint_age_s));
    else f.checkpointAge.none(sessions.length ? "no checkpoint yet" : "no online session");
    const dated = champions.filter((c) => known(c.data_age_days)).length;
    setText(this.freshnessFoot,
      `means over ${fmt.count(champions.length, "champion")} (${dated} with a training date) · ` +
        `${fmt.count(sessions.length, "online session")}`);
  }

  /** The newest episode's figures; where it has none but an earlier one has, that one's too. */
  adaptation(episodes) {
    const f = this.f;
    const e = episodes.at(-1);
    this.episodeSubject.replaceChildren();
    if (!e) {
      for (const figure of [f.detectionOutcomes, f.detectionTime, f.adaptation, f.serving]) {
        figure.none("no drift yet");
      }
      setText(this.episodeSubject, "No drift has asked for an adaptation in this window.");
      return;
    }
    this.episodeSubject.append(
      `newest: ${subject(e)} `,
      el("span", { class: `badge episode-${e.status}`, "data-testid": "success-status" }, e.status),
      e.adapted_version ? ` v${e.adapted_version}` : "",
      ` · detected ${when(e.detected_at)}`,
    );
    const earlier = (field, format) => {
      const other = episodes.findLast((x) => known(x[field]));
      return other && other !== e ? ` · last: ${format(other[field])} (${subject(other)})` : "";
    };
    const noChange = "change not known (no regime label)";
    const outcomes = (n) => fmt.count(n, "outcome");
    if (known(e.detection_delay_outcomes)) {
      f.detectionOutcomes.show(outcomes(e.detection_delay_outcomes));
    } else {
      f.detectionOutcomes.none(noChange + earlier("detection_delay_outcomes", outcomes));
    }
    if (known(e.detection_delay_s)) f.detectionTime.show(fmt.seconds(e.detection_delay_s));
    else f.detectionTime.none(noChange + earlier("detection_delay_s", fmt.seconds));
    const notPromoted = "no adapted version promoted yet";
    if (known(e.adaptation_delay_s)) f.adaptation.show(fmt.seconds(e.adaptation_delay_s));
    else f.adaptation.none(notPromoted + earlier("adaptation_delay_s", fmt.seconds));
    if (known(e.serving_delay_s)) f.serving.show(fmt.seconds(e.serving_delay_s));
    else {
      const why = e.adapted_version ? "this replica does not serve it" : notPromoted;
      f.serving.none(why + earlier("serving_delay_s", fmt.seconds));
    }
  }

  accuracy(h) {
    const f = this.f;
    const pairs = [
      [f.onlineHit, f.batchHit, h.online_hit_rate, h.batch_hit_rate, fmt.rate, 1],
      [f.onlineLoss, f.batchLoss, h.online_log_loss, h.batch_log_loss, fmt.logLoss, -1],
    ];
    if (!h.compared_trades) {
      f.compared.none("no trade had both an online and a batch prediction");
      for (const [online, batch] of pairs) {
        for (const figure of [online, batch]) {
          figure.none("nothing to compare yet");
          figure.better(false);
        }
      }
      return;
    }
    f.compared.show(fmt.count(h.compared_trades, "trade"));
    for (const [online, batch, a, b, format, sign] of pairs) {
      for (const [figure, v] of [[online, a], [batch, b]]) {
        if (known(v)) figure.show(format(v));
        else figure.none("not measured");
      }
      const both = known(a) && known(b) && a !== b;
      online.better(both && sign * (a - b) > 0);
      batch.better(both && sign * (b - a) > 0);
    }
  }

  efficiency(episodes) {
    const f = this.f;
    const e = episodes.at(-1);
    const outcomes = (n) => fmt.count(n, "outcome");
    if (!e) {
      f.recoverOutcomes.none("no drift yet");
      f.recoverDays.none("no drift yet");
      setText(this.recoverySubject, "");
      return;
    }
    setText(this.recoverySubject, `newest: ${subject(e)} (${e.status})`);
    if (known(e.outcomes_to_recover) && known(e.days_to_recover)) {
      f.recoverOutcomes.show(outcomes(e.outcomes_to_recover));
      f.recoverDays.show(fmt.count(e.days_to_recover, "day"));
      return;
    }
    const last = episodes.findLast((x) => known(x.outcomes_to_recover));
    const why = known(e.pre_drift_level)
      ? "not recovered yet"
      : "not recovered yet (no pre-drift level)";
    f.recoverOutcomes.none(last ? `${why} · last: ${outcomes(last.outcomes_to_recover)} ` +
      `(${subject(last)})` : why);
    f.recoverDays.none(last && known(last.days_to_recover)
      ? `last: ${fmt.count(last.days_to_recover, "day")}` : "not recovered yet");
  }

  impact(h, total) {
    const f = this.f;
    if (!h.impact_trades || !known(h.ml_added_pnl)) {
      const why = "no rule-only positions reported";
      f.added.none(why);
      f.interval.none(why);
      f.impactTrades.none(why);
      setText(this.verdict, "");
      delete this.verdict.dataset.verdict;
      setText(this.legs, "");
      return;
    }
    f.added.show(fmt.pnl(h.ml_added_pnl));
    f.impactTrades.show(fmt.count(h.impact_trades, "trade"));
    let verdict = "";
    if (known(h.ml_added_low) && known(h.ml_added_high)) {
      f.interval.show(`[${fmt.pnl(h.ml_added_low)}, ${fmt.pnl(h.ml_added_high)}]`);
      if (h.ml_added_low <= 0 && h.ml_added_high >= 0) {
        this.verdict.dataset.verdict = "includes-zero";
        verdict = "The interval includes 0: not distinguishable from the rules alone.";
      } else if (h.ml_added_low > 0) {
        this.verdict.dataset.verdict = "added";
        verdict = "The interval is above 0: the ML view added P&L.";
      } else {
        this.verdict.dataset.verdict = "cost";
        verdict = "The interval is below 0: the ML view cost P&L.";
      }
    } else {
      f.interval.none("needs two trades or more");
      delete this.verdict.dataset.verdict;
    }
    setText(this.verdict, verdict);
    setText(this.legs, total && known(total.blended_pnl) && known(total.rules_pnl)
      ? `blended ${fmt.pnl(total.blended_pnl)} − rules only ${fmt.pnl(total.rules_pnl)}`
      : "");
  }

  /** The cumulative blended and rules-only P&L (x: trades counted), once it has two points. */
  curve(points) {
    const usable = points.filter(
      (p) => known(p?.trades) && known(p?.blended_pnl) && known(p?.rules_pnl));
    this.spark.hidden = usable.length < 2;
    this.spark.dataset.points = String(usable.length);
    if (usable.length < 2) return;
    const columns = [usable.map((p) => p.trades), usable.map((p) => p.blended_pnl),
      usable.map((p) => p.rules_pnl)];
    if (!this.sparkChart) {
      // Made once it shows: a hidden container has no width to size it by.
      this.sparkChart = makeChart(this.sparkBox, {
        height: 64,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false } },
        axes: [{ show: false }, { show: false }],
        series: [
          {},
          { stroke: "#2563eb", width: 1.5 },
          { stroke: "#6b7280", width: 1, dash: [4, 3] },
        ],
      }, columns);
    } else {
      this.sparkChart.setData(columns);
    }
  }

  episodes(episodes) {
    clear(this.rows);
    const shown = episodes.slice(-EPISODE_ROWS).reverse();
    const cell = (v, format) => (known(v) ? format(v) : NONE);
    for (const e of shown) {
      const detection = known(e.detection_delay_outcomes)
        ? `${fmt.count(e.detection_delay_outcomes, "outcome")} · ` +
          cell(e.detection_delay_s, fmt.seconds)
        : NONE;
      const recovered = known(e.outcomes_to_recover)
        ? `${fmt.count(e.outcomes_to_recover, "outcome")} · ` +
          cell(e.days_to_recover, (d) => fmt.count(d, "day"))
        : NONE;
      const row = { driftId: e.drift_id, model: e.model_id, symbol: e.symbol, status: e.status };
      this.rows.append(
        el("tr", { dataset: row },
          el("td", {}, e.model_id),
          el("td", {}, e.symbol),
          el("td", {}, el("span", { class: `badge episode-${e.status}` }, e.status),
            e.adapted_version ? ` v${e.adapted_version}` : ""),
          el("td", {}, when(e.detected_at)),
          el("td", { dataset: { field: "detection" } }, detection),
          el("td", { dataset: { field: "adaptation" } }, cell(e.adaptation_delay_s, fmt.seconds)),
          el("td", { dataset: { field: "serving" } }, cell(e.serving_delay_s, fmt.seconds)),
          el("td", { dataset: { field: "recovery" } }, recovered)),
      );
    }
    let note = "";
    if (episodes.length === 0) note = `No adaptation episode in the last ${WINDOW_DAYS} days.`;
    else if (episodes.length > shown.length) {
      note = `newest ${shown.length} of ${episodes.length} episodes`;
    }
    setText(this.episodesNote, note);
    this.rows.closest("table").hidden = episodes.length === 0;
  }
}
