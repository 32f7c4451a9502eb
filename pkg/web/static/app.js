// jetsync status page: polls /api/status and renders each folder.
"use strict";

const colors = ["#0969da", "#cf222e", "#1f883d", "#8250df", "#b35900", "#57606a"];
const poll = 2000;
let previous = null; // last response, for throughput

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function duration(s) {
  if (!s || s < 0.001) return "0s";
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + Math.floor(s % 86400 / 3600) + "h";
}

function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n.toFixed(0)) + " " + u[i];
}

function ago(ns, now) {
  if (!ns) return "never";
  return duration(Math.max(0, now / 1000 - ns / 1e9)) + " ago";
}

// rate of a replica's fetched+reused bytes since the last poll.
function throughput(folder, r, now) {
  if (!previous) return "";
  const f = previous.folders.find(x => x.folder === folder);
  const p = f && f.replicas.find(x => x.id === r.id);
  const dt = (now - previous.time) / 1000;
  if (!p || dt <= 0) return "";
  const d = (r.fetched_bytes + r.reused_bytes) - (p.fetched_bytes + p.reused_bytes);
  return d > 0 ? bytes(d / dt) + "/s" : "0 B/s";
}

function replicaRow(folder, r, now) {
  const state = r.state === "offline"
    ? el("span", {}, el("span", { class: "badge offline" }, "offline"), " since " + ago(r.offline_since, now))
    : el("span", { class: "badge " + r.state }, r.state);
  const notes = el("td", {});
  if (r.note) notes.append(el("div", { class: "muted" }, r.note));
  if (r.waiting_for) notes.append(el("div", { class: "stuck" }, "waiting for the source: " + r.waiting_for));
  for (const s of r.stuck || []) notes.append(el("div", { class: "stuck" }, "stuck: " + s.path + ": " + s.reason));
  if (r.parked > (r.stuck || []).length) notes.append(el("div", { class: "stuck" }, "and " + (r.parked - r.stuck.length) + " more stuck paths"));
  if (r.last_error) notes.append(el("div", { class: "lasterr" }, r.errors + " errors, last: " + r.last_error));
  return el("tr", { "data-replica": r.id, "data-state": r.state, "data-lag": r.lag_seconds, "data-pending": r.pending },
    el("td", {}, r.id), el("td", {}, state),
    el("td", { class: "num lag" }, duration(r.lag_seconds)), el("td", { class: "num" }, r.pending.toLocaleString()),
    el("td", { class: "num" }, r.applied_seq), el("td", { class: "num" }, throughput(folder, r, now)),
    el("td", {}, ago(r.updated, now)), notes);
}

function graph(folder, replicas, history, now) {
  const w = 900, h = 160, pad = 34, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "graph");
  const series = replicas.map(r => history[folder + "/" + r.id] || []);
  const top = Math.max(1, ...series.flat().map(s => s.lag));
  const x = t => pad + (w - pad - 8) * (1 - (now - t) / 3600000);
  const y = v => h - 18 - (h - 30) * v / top;
  const label = (tx, ty, text, anchor) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", tx); t.setAttribute("y", ty); t.setAttribute("text-anchor", anchor || "start");
    t.textContent = text; svg.append(t);
  };
  label(4, 14, duration(top)); label(4, h - 20, "0s");
  label(pad, h - 4, "1h ago"); label(w - 8, h - 4, "now", "end");
  series.forEach((pts, i) => {
    if (!pts.length) return;
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colors[i % colors.length]);
    line.setAttribute("stroke-width", "2");
    line.setAttribute("points", pts.map(s => `${x(s.t).toFixed(1)},${y(s.lag).toFixed(1)}`).join(" "));
    svg.append(line);
  });
  const legend = el("div", { class: "legend" });
  replicas.forEach((r, i) => {
    const sw = el("i", {}); sw.style.background = colors[i % colors.length];
    legend.append(el("span", {}, sw, r.id));
  });
  return el("div", {}, el("div", { class: "muted" }, "lag, last hour"), svg, legend);
}

function folderSection(f, history, now) {
  const s = el("section", { class: "folder", "data-folder": f.folder }, el("h2", {}, "folder " + f.folder));
  s.append(el("div", { class: "muted" }, f.no_stream ? "stream: none yet"
    : `stream: ${f.stream.messages.toLocaleString()} messages, ${bytes(f.stream.bytes)}, last seq ${f.stream.last_seq}`
      + (f.cache ? `; content cache: ${f.cache.messages.toLocaleString()} chunks, ${bytes(f.cache.bytes)}` : "")));
  const src = f.source;
  s.append(el("p", { class: "source", "data-state": src ? src.state : "none" }, src
    ? `source ${src.id}: ${src.state}, ${src.files.toLocaleString()} files, ${bytes(src.bytes)}, last change ${ago(src.last_change, now)}, updated ${ago(src.updated, now)}`
      + (src.last_error ? ` — ${src.errors} errors, last: ${src.last_error}` : "")
    : "source: none reported"));
  if (!f.replicas.length) {
    s.append(el("p", { class: "muted" }, "no replica reported"));
    return s;
  }
  const head = el("tr", {}, ...["replica", "state", "lag", "pending", "applied seq", "throughput", "updated", ""].map(t => el("th", {}, t)));
  const body = el("tbody", {}, ...f.replicas.map(r => replicaRow(f.folder, r, now)));
  s.append(el("table", {}, el("thead", {}, head), body));
  s.append(graph(f.folder, f.replicas, history, now));
  return s;
}

async function refresh() {
  try {
    const res = await fetch("api/status", { cache: "no-store" });
    const st = await res.json();
    const main = document.getElementById("folders");
    main.replaceChildren(...st.folders.map(f => folderSection(f, st.history || {}, st.time)));
    if (!st.folders.length) main.append(el("p", { class: "muted" }, "no folders on the broker yet"));
    const err = document.getElementById("error");
    err.hidden = !st.error;
    err.textContent = st.error ? "cannot read the status from the broker: " + st.error : "";
    document.getElementById("updated").textContent = "updated " + new Date(st.time).toLocaleTimeString();
    document.body.dataset.loaded = "true";
    previous = st;
  } catch (e) {
    document.getElementById("updated").textContent = "cannot reach the daemon: " + e;
  }
}

refresh();
setInterval(refresh, poll);
