// SPDX-License-Identifier: MIT
// Small DOM and formatting helpers shared by the dashboard modules.

export const $ = (id) => document.getElementById(id);

export const short = (value) => (value || "").replace(/^[A-Z_]+?_(?=[A-Z0-9]+$)/, "");
export const stateName = (job) => (job.state || "JOB_STATE_UNSPECIFIED").replace("JOB_STATE_", "").toLowerCase();

export function bytes(n) {
  n = Number(n || 0);
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function ago(time) {
  if (!time) return "";
  const s = (Date.now() - Date.parse(time)) / 1000;
  if (s < 60) return `${Math.max(0, Math.round(s))} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(time).toLocaleDateString();
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

export function artifactUrl(artifact) {
  const dot = (artifact.filename || "").lastIndexOf(".");
  const ext = dot > 0 ? artifact.filename.slice(dot).toLowerCase() : "";
  return `/v1/artifacts/${artifact.digest}${/^\.[a-z0-9]{1,8}$/.test(ext) ? ext : ""}`;
}

export function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
