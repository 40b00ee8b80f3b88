// SPDX-License-Identifier: MIT
// The dashboard: server status, a submit form, the job list (polled), and the selected job
// followed live through the WatchJob stream, with its model in the 3D viewer.

import { ConnectError, authHeaders, serverStream, setApiKey, unary } from "./connect.js";
import { initForm } from "./form.js";
import { $, ago, artifactUrl, base64, bytes, el, short, stateName } from "./util.js";
import { createViewer } from "./viewer.js";

const TERMINAL = new Set(["JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELED"]);
const KEY_STORAGE = "trellis2.apiKey";

const state = {
  info: null,
  jobs: new Map(), // job_id -> Job (JSON)
  order: [], // job ids, newest first
  filter: "all",
  selected: null,
  watch: null, // AbortController of the selected job's stream
  shown: null, // digest the viewer shows
};

const viewer = createViewer($("viewer"), $("viewer-status"));

// ---- messages -------------------------------------------------------------------------

function showError(error, where = $("banner")) {
  let message = error instanceof ConnectError ? error.message : `network: ${error.message || error}`;
  if (error instanceof ConnectError && error.code === "unauthenticated") {
    $("key-box").hidden = false;
    message = `This server needs an API key: enter yours at the top right (${error.rawMessage}).`;
  }
  where.textContent = message;
  where.hidden = false;
}

function clearBanner() {
  $("banner").hidden = true;
}

// ---- server info ----------------------------------------------------------------------

async function refreshInfo() {
  try {
    const info = await unary("GetServerInfo", {});
    state.info = info;
    clearBanner();
    const gpus = (info.gpus || []).map((g) => g.name).join(", ") || "CPU only";
    const chips = [
      `v${info.version || "?"}`,
      `backend ${info.defaultBackend || "?"}`,
      `${info.workers || 0} worker${info.workers === 1 ? "" : "s"}`,
      `${info.runningJobs || 0} running`,
      `${info.queueDepth || 0} queued`,
      gpus,
    ].map((text) => el("span", { className: "chip", textContent: text }));
    for (const backend of info.backends || []) {
      if (backend.randomWeights) {
        chips.push(el("span", { className: "chip warn", textContent: `${backend.name}: random weights (benchmark only)` }));
      }
    }
    $("server-info").replaceChildren(...chips);
    $("key-box").hidden = !info.authRequired;
    const select = $("backend");
    if (select.options.length === 1) {
      for (const backend of info.backends || []) {
        select.append(el("option", { value: backend.name, textContent: backend.loaded ? backend.name : `${backend.name} (not loaded)` }));
      }
    }
  } catch (error) {
    showError(error);
  }
}

// ---- job list -------------------------------------------------------------------------

async function refreshJobs() {
  try {
    const response = await unary("ListJobs", { pageSize: 50 });
    const jobs = response.jobs || [];
    state.order = jobs.map((job) => job.jobId);
    for (const job of jobs) mergeJob(job);
    renderJobs();
  } catch (error) {
    showError(error);
  }
}

function mergeJob(job) {
  const old = state.jobs.get(job.jobId);
  // The live stream may be ahead of a poll: never go back in progress for a running job.
  if (old && old.state === job.state && (old.progressFraction || 0) > (job.progressFraction || 0)) {
    job.progressFraction = old.progressFraction;
  }
  state.jobs.set(job.jobId, job);
}

function visible(job) {
  switch (state.filter) {
    case "active":
      return !TERMINAL.has(job.state);
    case "failed":
      return job.state === "JOB_STATE_FAILED" || job.state === "JOB_STATE_CANCELED";
    case "all":
      return true;
    default:
      return job.state === state.filter;
  }
}

function renderJobs() {
  // The list is rebuilt on every poll; keep keyboard focus on the same job.
  const focused = document.activeElement?.closest?.("#jobs li")?.dataset.jobId;
  const items = [];
  for (const id of state.order) {
    const job = state.jobs.get(id);
    if (!job || !visible(job)) continue;
    const name = job.spec?.displayName || "asset";
    const status = stateName(job);
    let meta = `${id.slice(0, 8)} · ${job.spec?.backend || ""} · ${ago(job.createTime)}`;
    if (status === "queued" && job.queuePosition) meta = `#${job.queuePosition} in queue · ${meta}`;
    // The input image is itself an artifact; plain <img> cannot send an API key, so no
    // thumbnails on servers that require one.
    const digest = job.spec?.imageDigest;
    const thumb = digest && !state.info?.authRequired
      ? el("img", { className: "thumb", src: `/v1/artifacts/${digest}`, alt: "", loading: "lazy" })
      : el("span", { className: "thumb" });
    const li = el(
      "li",
      { className: `job${id === state.selected ? " selected" : ""}`, title: `jobs/${id}` },
      thumb,
      el("span", { className: "name", textContent: name }),
      el("span", { className: `state ${status}`, textContent: status }),
      status === "running" ? el("progress", { max: 1, value: job.progressFraction || 0 }) : null,
      el("span", { className: "meta", textContent: meta }),
    );
    li.dataset.jobId = id;
    li.dataset.state = status;
    li.tabIndex = 0;
    li.addEventListener("click", () => select(id));
    li.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && select(id));
    items.push(li);
  }
  if (!items.length) items.push(el("li", { className: "muted", textContent: "No jobs yet." }));
  const jobs = [...state.jobs.values()];
  const running = jobs.filter((j) => j.state === "JOB_STATE_RUNNING").length;
  const queued = jobs.filter((j) => j.state === "JOB_STATE_QUEUED").length;
  $("queue-summary").textContent = `${running} running · ${queued} queued`;
  $("jobs").replaceChildren(...items);
  if (focused) items.find((li) => li.dataset.jobId === focused)?.focus();
}

for (const button of document.querySelectorAll(".filters button")) {
  button.addEventListener("click", () => {
    state.filter = button.dataset.filter;
    for (const other of document.querySelectorAll(".filters button")) other.classList.toggle("active", other === button);
    renderJobs();
  });
}

// ---- the selected job -----------------------------------------------------------------

function select(id) {
  if (state.selected === id) return;
  state.selected = id;
  state.watch?.abort();
  state.shown = null;
  viewer.clear();
  $("events").replaceChildren();
  $("job-detail").hidden = false;
  $("empty-detail").hidden = true;
  renderJobs();
  renderDetail();
  follow(id);
}

/** Follows a job's events from seq 0, reconnecting from the last seq after a network drop. */
async function follow(id) {
  const controller = new AbortController();
  state.watch = controller;
  let afterSeq = 0;
  for (let attempt = 0; !controller.signal.aborted; attempt++) {
    try {
      await serverStream(
        "WatchJob",
        { name: `jobs/${id}`, afterSeq: String(afterSeq) },
        (event) => {
          if (!event.heartbeat) afterSeq = Math.max(afterSeq, Number(event.seq || 0));
          onEvent(id, event);
          attempt = 0;
        },
        { signal: controller.signal },
      );
      return; // The stream ended after the terminal event.
    } catch (error) {
      if (controller.signal.aborted) return;
      // Connect errors other than "unavailable" are final (not_found, unauthenticated, ...).
      if (error instanceof ConnectError && error.code !== "unavailable") {
        showError(error, $("job-error"));
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 5000)));
    }
  }
}

function onEvent(id, event) {
  const job = state.jobs.get(id) || { jobId: id, name: `jobs/${id}` };
  if (event.heartbeat) return;
  const line = describe(event);
  if (line) $("events").append(el("li", { textContent: `#${event.seq} ${line}` }));
  if (event.queued) {
    job.state = "JOB_STATE_QUEUED";
    job.queuePosition = event.queued.position;
  } else if (event.started) {
    job.state = "JOB_STATE_RUNNING";
  } else if (event.progress) {
    job.state = "JOB_STATE_RUNNING";
    job.progressFraction = event.progress.fraction || 0;
    job.lastProgress = event.progress;
  } else if (event.preview) {
    const artifact = event.preview.artifact;
    if (artifact && !TERMINAL.has(job.state)) {
      const label = event.preview.kind === "PREVIEW_KIND_VOXELS" ? "Preview: coarse voxels" : "Preview: untextured mesh";
      show(artifact, [], label);
    }
  } else if (event.completed) {
    job.state = "JOB_STATE_SUCCEEDED";
    job.progressFraction = 1;
    job.artifacts = event.completed.artifacts || [];
    job.stats = event.completed.stats || {};
  } else if (event.failed) {
    job.state = "JOB_STATE_FAILED";
    job.error = event.failed.error;
  } else if (event.canceled) {
    job.state = "JOB_STATE_CANCELED";
  }
  state.jobs.set(id, job);
  if (!state.order.includes(id)) state.order.unshift(id);
  renderJobs();
  if (id === state.selected) renderDetail();
}

function describe(event) {
  if (event.queued) return `queued, position ${event.queued.position || "?"}`;
  if (event.started) return `started on ${event.started.worker || "a worker"} (attempt ${event.started.attempt || 1})`;
  if (event.progress) {
    const p = event.progress;
    return `${p.stage} ${p.step || 0}/${p.total || 0} (${Math.round((p.fraction || 0) * 100)}%)`;
  }
  if (event.preview) return `preview ${short(event.preview.kind).toLowerCase()}`;
  if (event.completed) return `completed: ${(event.completed.artifacts || []).length} files`;
  if (event.failed) return `failed: ${event.failed.error?.message || ""}`;
  if (event.canceled) return "canceled";
  return null;
}

function renderDetail() {
  const job = state.jobs.get(state.selected);
  if (!job) return;
  const status = stateName(job);
  $("job-title").textContent = job.spec?.displayName || "asset";
  $("job-title").title = job.name;
  $("job-state").textContent = status;
  $("job-state").className = `state ${status}`;
  $("job-progress").value = job.progressFraction || 0;
  $("cancel").hidden = TERMINAL.has(job.state);
  $("variation").hidden = !job.spec?.imageDigest;
  const p = job.lastProgress;
  let stage = "";
  if (status === "queued") stage = job.queuePosition ? `Waiting: #${job.queuePosition} in queue` : "Waiting in queue";
  else if (status === "running" && p) {
    stage = `${p.stage} ${p.step || 0}/${p.total || 0} · ${Math.round((p.fraction || 0) * 100)}%`;
    if (p.etaSeconds > 0) stage += ` · about ${Math.ceil(p.etaSeconds)} s left`;
  } else if (status === "succeeded") stage = job.stats?.cacheHit ? "Done (from cache)" : "Done";
  $("job-stage").textContent = stage;
  $("job-error").textContent = job.error ? `${job.error.message} (code ${job.error.code})` : "";
  renderStats(job);
  renderDownloads(job);
  if (status === "succeeded" && job.artifacts?.length) {
    const [main, ...rest] = job.artifacts;
    const total = job.artifacts.reduce((sum, a) => sum + Number(a.sizeBytes || 0), 0);
    const files = job.artifacts.length > 1 ? ` in ${job.artifacts.length} files` : "";
    show(main, rest, `${job.spec?.displayName || "asset"} · ${bytes(total)}${files}`);
  }
}

function renderStats(job) {
  const s = job.stats;
  const rows = [];
  if (s) {
    rows.push(["Triangles", Number(s.triangleCount || 0).toLocaleString()], ["Vertices", Number(s.vertexCount || 0).toLocaleString()]);
    rows.push(["Textures", `${s.textureCount || 0} × ${s.textureSize || "?"}px ${short(s.textureFormat || "").toLowerCase()}`]);
    rows.push(["Alpha", s.alphaMode || "OPAQUE"]);
    if (s.extent?.length) rows.push(["Size (m)", s.extent.map((v) => v.toFixed(2)).join(" × ")]);
  }
  if (job.spec) {
    rows.push(["Seed", job.spec.seed || "0"], ["Backend", job.spec.backend || ""]);
    rows.push(["Image", `${job.spec.imageWidth}×${job.spec.imageHeight} ${job.spec.imageFormat || ""}`]);
  }
  $("stats").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
}

function renderDownloads(job) {
  const links = (job.artifacts || []).map((artifact, index) => {
    const name = artifact.filename || artifact.digest.slice(0, 12);
    const url = `${artifactUrl(artifact)}?filename=${encodeURIComponent(name)}`;
    const link = el("a", { href: url, download: name, className: index === 0 ? "main" : "", textContent: `⬇ ${name} (${bytes(artifact.sizeBytes)})` });
    link.dataset.digest = artifact.digest;
    if (state.info?.authRequired) link.addEventListener("click", (e) => download(e, url, name));
    return link;
  });
  if (links.length > 1) {
    // A glTF container (or extra textures): all files in one zip, named as the .gltf expects.
    const name = `${job.spec?.displayName || "asset"}.zip`;
    const url = `/v1/jobs/${job.jobId}/files.zip`;
    const zip = el("a", { href: url, download: name, className: "zip", textContent: `⬇ all files (.zip)` });
    if (state.info?.authRequired) zip.addEventListener("click", (e) => download(e, url, name));
    links.push(zip);
  }
  $("downloads").replaceChildren(...links);
}

/** With an API key the browser cannot follow a plain link: fetch with the header, save a blob. */
async function download(event, url, name) {
  event.preventDefault();
  try {
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    const blobUrl = URL.createObjectURL(await response.blob());
    const a = el("a", { href: blobUrl, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(blobUrl), 60_000);
  } catch (error) {
    showError(error);
  }
}

function show(main, parts, label) {
  if (state.shown === main.digest) return;
  state.shown = main.digest;
  const files = Object.fromEntries(parts.map((a) => [a.filename, artifactUrl(a)]));
  viewer.load(artifactUrl(main), { files, headers: authHeaders(), label });
}

$("cancel").addEventListener("click", async () => {
  try {
    const job = await unary("CancelJob", { name: `jobs/${state.selected}` });
    mergeJob(job);
    renderDetail();
    renderJobs();
  } catch (error) {
    showError(error, $("job-error"));
  }
});
// Another take on the selected job: its input image (an artifact on the server) and settings
// again, with a seed the server draws.
$("variation").addEventListener("click", async () => {
  const job = state.jobs.get(state.selected);
  const spec = job?.spec;
  if (!spec) return;
  const button = $("variation");
  button.disabled = true;
  try {
    const response = await fetch(`/v1/artifacts/${spec.imageDigest}`, { headers: authHeaders() });
    if (!response.ok) throw new Error(`input image: HTTP ${response.status}`);
    const request = {
      image: base64(await response.arrayBuffer()),
      displayName: spec.displayName || "asset",
      exportOptions: spec.exportOptions || {},
    };
    for (const key of ["pipelineType", "sparseStructureSampler", "shapeSlatSampler", "texSlatSampler", "priority", "backend"]) {
      if (spec[key] !== undefined) request[key] = spec[key];
    }
    const created = await unary("CreateJob", request);
    mergeJob(created);
    if (!state.order.includes(created.jobId)) state.order.unshift(created.jobId);
    select(created.jobId);
  } catch (error) {
    showError(error, $("job-error"));
  } finally {
    button.disabled = false;
  }
});
$("wireframe").addEventListener("change", (e) => viewer.setWireframe(e.target.checked));
$("reset-view").addEventListener("click", () => viewer.resetView());

initForm(async (request) => {
  const job = await unary("CreateJob", request);
  mergeJob(job);
  if (!state.order.includes(job.jobId)) state.order.unshift(job.jobId);
  select(job.jobId);
}, showError);

$("api-key").value = localStorage.getItem(KEY_STORAGE) || "";
setApiKey($("api-key").value);
$("api-key").addEventListener("change", (e) => {
  localStorage.setItem(KEY_STORAGE, e.target.value);
  setApiKey(e.target.value);
  refreshInfo();
  refreshJobs();
});

// ---- polling --------------------------------------------------------------------------

refreshInfo();
refreshJobs();
setInterval(() => document.hidden || refreshJobs(), 1500);
setInterval(() => document.hidden || refreshInfo(), 3000);
