// Watch an update job until it reaches a final state, polling GET /jobs/{id}.
import { el, duration, num, setText, signedPct, when } from "./dom.js";

export const FINAL = new Set(["promoted", "rolled_back", "deferred", "failed"]);
const STORAGE = "online-learning.dashboard.jobs";

export function rememberedJobs() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE) || "[]");
  } catch {
    return [];
  }
}

function remember(jobs) {
  try {
    sessionStorage.setItem(STORAGE, JSON.stringify(jobs));
  } catch {
    /* not kept */
  }
}

export class JobWatch {
  /**
   * @param {import("./api.js").Api} api
   * @param {{job_id: string, model_id: string, status?: string}} job  the 202 answer (or a remembered one)
   * @param {(job: object) => void} onFinal
   */
  constructor(api, job, onFinal) {
    this.api = api;
    this.jobId = job.job_id;
    this.modelId = job.model_id;
    this.onFinal = onFinal;
    this.timeline = [];
    this.timer = null;
    this.stopped = false;
    this.started = Date.now();
    this.statusBadge = el("span", { class: "badge job-queued", "data-testid": "job-status" }, job.status ?? "queued");
    this.detail = el("div", { class: "job-detail", "data-testid": "job-detail" });
    this.steps = el("ol", { class: "log" });
    this.root = el(
      "div",
      { class: "job", dataset: { jobId: this.jobId, status: job.status ?? "queued" } },
      el("div", {}, el("strong", {}, `job ${this.jobId}`), " ", this.statusBadge,
        job.estimated_duration_minutes != null ? el("span", { class: "muted" }, ` estimated ${num(job.estimated_duration_minutes, 1)} min`) : null),
      this.steps,
      this.detail,
    );
    this._step(job.status ?? "queued", "accepted");
    const jobs = rememberedJobs().filter((j) => j.job_id !== this.jobId);
    jobs.push({ job_id: this.jobId, model_id: this.modelId });
    remember(jobs.slice(-10));
  }

  start() {
    this._poll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  _step(status, message) {
    const last = this.timeline[this.timeline.length - 1];
    if (last && last.status === status) return;
    this.timeline.push({ status, at: new Date() });
    this.steps.append(el("li", {}, `${new Date().toLocaleTimeString()} ${status}${message ? ` · ${message}` : ""}`));
  }

  async _poll() {
    if (this.stopped) return;
    let job;
    try {
      job = await this.api.get(`/jobs/${encodeURIComponent(this.jobId)}`);
    } catch (err) {
      if (err.status === 404) {
        this._show({ status: "unknown", message: `the API no longer knows job ${this.jobId}` });
        this._forget();
        return;
      }
      setText(this.detail, `could not read the job: ${err.message} (retrying)`);
      this.timer = setTimeout(() => this._poll(), 3000);
      return;
    }
    this._show(job);
    if (FINAL.has(job.status)) {
      this._forget();
      this.onFinal?.(job);
      return;
    }
    const elapsed = Date.now() - this.started;
    this.timer = setTimeout(() => this._poll(), elapsed < 60000 ? 1000 : 3000);
  }

  _forget() {
    remember(rememberedJobs().filter((j) => j.job_id !== this.jobId));
  }

  _show(job) {
    const status = job.status ?? "unknown";
    this.root.dataset.status = status;
    setText(this.statusBadge, status.replace("_", " "));
    this.statusBadge.className = `badge job-${status}`;
    this._step(status, job.state && job.state !== status ? job.state : job.message);
    const parts = [];
    if (job.message) parts.push(job.message);
    if (FINAL.has(status)) {
      if (job.version) parts.push(`version ${job.version}`);
      if (job.sharpe_pre != null || job.sharpe_post != null) {
        parts.push(`Sharpe ${num(job.sharpe_pre)} → ${num(job.sharpe_post)}`);
      }
      if (job.degradation_pct != null) parts.push(`degradation ${signedPct(job.degradation_pct)}`);
      if (job.reason) parts.push(`reason ${job.reason}`);
      if (job.duration_s != null) parts.push(`took ${duration(job.duration_s)}`);
      if (job.error) parts.push(`error: ${job.error}`);
      if (job.finished_at) parts.push(`finished ${when(job.finished_at)}`);
    }
    setText(this.detail, parts.join(" · "));
  }
}
