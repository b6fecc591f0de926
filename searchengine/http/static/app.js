// The search page: plain JavaScript, no network beyond this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
// the prefix the app is mounted under, if any (a meta tag: the page runs no inline script)
const ROOT = (document.querySelector('meta[name="searchengine-root"]') || {}).content || "";
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  // keep the token out of the address bar, history and Referer from now on
  localStorage.setItem("searchengine-token", params.get("token"));
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
}
const token = localStorage.getItem("searchengine-token");
const PAGE = 24;
let lastQuery = null;  // {kind: "text"|"image"|"similar", value, offset}

// Media and thumbnails are plain links: with a token, the server is asked once for an
// HttpOnly same-site cookie, so that no URL the page builds ever carries the token.
const session = token
  ? fetch(ROOT + "/api/session", { method: "POST", headers: { "Authorization": "Bearer " + token } }).catch(() => null)
  : Promise.resolve(null);

async function api(url, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(url, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

function clock(seconds) {
  const m = Math.floor(seconds / 60), s = seconds - m * 60;
  return m + ":" + s.toFixed(1).padStart(4, "0");
}

function setStatus(text, isError = false) {
  const el = $("#status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function modalityParam() {
  return $("#modality").value;
}

const STOP = new Set("and are but for from had has have her his its not our the their them then there these they this was were what when where which who will with you your".split(" "));

function highlight(el, text, query) {
  const words = ((query || "").toLowerCase().match(/[\w']{3,}/g) || []).filter((w) => !STOP.has(w));
  el.textContent = "";
  for (const part of text.split(/(\s+)/)) {
    const clean = part.toLowerCase().replace(/[^\w']/g, "");
    if (words.includes(clean)) {
      const mark = document.createElement("mark");
      mark.textContent = part;
      el.appendChild(mark);
    } else {
      el.appendChild(document.createTextNode(part));
    }
  }
}

function renderHit(hit, query) {
  const node = $("#hit-template").content.firstElementChild.cloneNode(true);
  node.dataset.id = hit.id;
  node.dataset.modality = hit.modality;
  node.querySelector(".name").textContent = hit.name;
  node.querySelector(".name").title = hit.path;
  node.querySelector(".score").textContent = hit.score.toFixed(3);
  const media = node.querySelector(".media");
  const passage = node.querySelector(".passage");
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = hit.modality;
  node.querySelector(".meta").prepend(badge);
  if (hit.modality === "image") {
    const img = document.createElement("img");
    img.src = hit.thumbnail_url;
    img.alt = hit.name;
    img.loading = "lazy";
    media.appendChild(img);
    passage.remove();
  } else if (hit.modality === "audio") {
    const from = hit.moment != null ? hit.moment : hit.start;
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = hit.media_url + "#t=" + from.toFixed(2);
    audio.dataset.start = from;
    audio.addEventListener("loadedmetadata", () => {
      if (audio.currentTime < from - 0.5 || audio.currentTime > from + 0.5) audio.currentTime = from;
    }, { once: true });
    media.appendChild(audio);
    const play = document.createElement("button");
    play.type = "button";
    play.className = "play";
    play.textContent = "▶ Play from " + clock(from);
    play.addEventListener("click", () => { audio.currentTime = from; audio.play(); });
    media.appendChild(play);
    const when = document.createElement("div");
    when.className = "when";
    when.textContent = clock(hit.start) + " – " + clock(hit.end);
    media.appendChild(when);
    highlight(passage, hit.text || "", query);
    showTranscriptLines(hit, passage, audio, from, query);
  } else {
    highlight(passage, hit.text || "", query);
  }
  node.querySelector(".similar").addEventListener("click", () => run({ kind: "similar", value: hit.id, label: hit.name }, 0));
  return node;
}

// The transcript lines of an audio hit's window, each a button that plays from its time.
async function showTranscriptLines(hit, passage, audio, from, query) {
  let item;
  try { item = await api(`${ROOT}/api/items/${hit.id}`); } catch (err) { return; }
  const segments = ((item.transcript && item.transcript.segments) || [])
    .filter(([start, end]) => end > hit.start && start < hit.end);
  if (!segments.length) return;
  passage.textContent = "";
  passage.classList.add("lines");
  for (const [start, , text] of segments) {
    const line = document.createElement("button");
    line.type = "button";
    line.className = "line" + (Math.abs(start - from) < 0.05 ? " current" : "");
    const time = document.createElement("span");
    time.className = "t";
    time.textContent = clock(start);
    const words = document.createElement("span");
    highlight(words, text, query);
    line.append(time, " ", words);
    line.addEventListener("click", () => { audio.currentTime = start; audio.play(); });
    passage.appendChild(line);
  }
}

async function run(query, offset) {
  await session;
  lastQuery = Object.assign({}, query, { offset });
  const modality = modalityParam();
  const started = performance.now();
  setStatus("Searching…");
  try {
    let body;
    if (query.kind === "text") {
      const qs = new URLSearchParams({ q: query.value, k: PAGE, offset });
      if (modality) qs.append("modality", modality);
      body = await api(ROOT + "/api/search?" + qs);
    } else if (query.kind === "image") {
      const form = new FormData();
      form.append("file", query.value);
      form.append("k", PAGE);
      form.append("offset", offset);
      if (modality) form.append("modality", modality);
      body = await api(ROOT + "/api/search/image", { method: "POST", body: form });
    } else {
      const qs = new URLSearchParams({ k: PAGE, offset });
      if (modality) qs.append("modality", modality);
      body = await api(`${ROOT}/api/items/${query.value}/similar?` + qs);
    }
    const list = $("#results");
    if (offset === 0) list.textContent = "";
    const words = query.kind === "text" ? query.value : "";
    for (const hit of body.hits) list.appendChild(renderHit(hit, words));
    $("#more").hidden = body.next_offset == null;
    const ms = Math.round(performance.now() - started);
    const what = query.kind === "text" ? `“${query.value}”` : query.kind === "image" ? "this image" : `items like ${query.label}`;
    const count = list.children.length;
    setStatus(count ? `${count} results for ${what} (${ms} ms)` : `No matches for ${what}.`);
  } catch (err) {
    setStatus(err.message, true);
  }
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("#q").value.trim();
  if (!q) { setStatus("Type something to search for, or drop an image.", true); return; }
  run({ kind: "text", value: q }, 0);
});
$("#modality").addEventListener("change", () => { if (lastQuery) run(lastQuery, 0); });
$("#more").addEventListener("click", () => run(lastQuery, lastQuery.offset + PAGE));
$("#image-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) run({ kind: "image", value: file }, 0);
});
const drop = $("#drop");
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("#image-file").click(); }
});
for (const type of ["dragenter", "dragover"]) drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer.files[0];
  if (file) run({ kind: "image", value: file }, 0);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && document.activeElement !== $("#q")) { event.preventDefault(); $("#q").focus(); }
});
