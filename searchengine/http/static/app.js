// The search page: plain JavaScript, no network beyond this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));
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
// the kinds of item, as the server's format registry lists them (the page's checkboxes)
const KINDS = $$('#kinds input[name="modality"]').map((el) => el.value);
// The search on screen: {kind: "text", value: q} | {kind: "similar", value: id, label}
// | {kind: "image", value: File, key}, with its filters and the offset loaded so far.
let lastQuery = null;
let generation = 0;  // bumped by every new search; answers to older ones are dropped
const images = new Map();  // history key -> the File of an image search (uploads can't go in a URL)
const HITS = new WeakMap();  // a result's <li> -> its hit, as the server sent it (the viewer reads it)

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
  el.setAttribute("role", isError ? "alert" : "status");
}

// -- where strong matches end ------------------------------------------------------------

const KNEE = 0.2;   // a drop of at least this share of the spread ends the strong matches
const LEAD = 0.12;  // ... or, failing that, the top hit alone this far above the second
const STEP = 1.5;   // and either drop at least this many average steps between hits
const FOUND_BY_KEYWORD = (hit) => Array.isArray(hit.found_by) && hit.found_by.includes("keyword");

// How many of a query's hits (sorted by score, best first) are strong matches.
// Scores are only comparable within one query (a text-to-text cosine sits higher than a
// text-to-photo one, and every model has its own scale), so there is no fixed threshold:
// the cut is read off this query's own score distribution.
//  - spread = best score - lowest score returned; average step = spread / (hits - 1).
//    Fewer than 3 hits: no distribution to read, all are strong (no divider).
//  - knee: the largest drop between consecutive scores among the top third of the hits
//    (at least the first 3 drops); if it is at least KNEE (20%) of the spread, the hits
//    above it are strong.
//  - lone leader: otherwise, if the top hit alone stands LEAD (12%) of the spread above
//    the second (a drop right after the first hit says more than one further down), it is
//    the one strong match.
//  - either drop must also be STEP (1.5) average steps or more, so that a steady decline
//    over a few hits is not read as a knee.
//  - otherwise the scores are flat (or all equal): none is strong, all are weaker.
// Hits found by the keyword side (found_by includes "keyword") are strong whatever their
// score: see isStrong.
function strongCount(scores) {
  const n = scores.length;
  if (n < 3) return n;
  const spread = scores[0] - scores[n - 1];
  if (!(spread > 1e-9)) return 0;
  const step = spread / (n - 1);
  let cut = 0, drop = 0;
  for (let i = 0; i < Math.max(3, Math.ceil(n / 3)) && i < n - 1; i++) {
    const d = scores[i] - scores[i + 1];
    if (d > drop) { drop = d; cut = i + 1; }
  }
  if (drop >= KNEE * spread && drop >= STEP * step) return cut;
  const lead = scores[0] - scores[1];
  if (lead >= LEAD * spread && lead >= STEP * step) return 1;
  return 0;
}

// The server says which hits are strong (`strong`: relevance >= 0.5 on its calibrated scale,
// one scale for every kind of hit: docs/ranking.md); the page's own cut below is read from
// the scores only for a server that does not say.
function isStrong(hit, rank, cut) {
  if (typeof hit.strong === "boolean") return hit.strong;
  return rank < cut || FOUND_BY_KEYWORD(hit);
}

// -- the query and filters in the address ------------------------------------------------

function readFilters() {
  return {
    modality: $$('#kinds input[name="modality"]:checked').map((el) => el.value),
    path: $("#path").value.trim(),
    place: $("#place").value.trim(),
    camera: $("#camera").value.trim(),
    after: $("#after").value,
    before: $("#before").value,
  };
}

function writeFilters(f) {
  for (const el of $$('#kinds input[name="modality"]')) el.checked = f.modality.includes(el.value);
  $("#path").value = f.path;
  $("#place").value = f.place || "";
  $("#camera").value = f.camera || "";
  $("#after").value = f.after;
  $("#before").value = f.before;
  updateFiltersToggle();
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

// The address of a search: ?q=… or ?similar=ID, then modality (repeated), path (the folder
// or glob as typed), after / before (days, YYYY-MM-DD). An image search keeps only filters.
function urlOf(query, f) {
  const qs = new URLSearchParams();
  if (query && query.kind === "text") qs.set("q", query.value);
  if (query && query.kind === "similar") qs.set("similar", query.value);
  for (const kind of KINDS) if (f.modality.includes(kind)) qs.append("modality", kind);
  if (f.path) qs.set("path", f.path);
  if (f.place) qs.set("place", f.place);
  if (f.camera) qs.set("camera", f.camera);
  if (f.after) qs.set("after", f.after);
  if (f.before) qs.set("before", f.before);
  const s = qs.toString();
  return location.pathname + (s ? "?" + s : "");
}

function readUrl() {
  const qs = new URLSearchParams(location.search);
  const f = {
    modality: qs.getAll("modality").filter((m) => KINDS.includes(m)),
    path: qs.get("path") || "",
    place: (qs.get("place") || "").slice(0, 200),
    camera: (qs.get("camera") || "").slice(0, 200),
    after: DATE.test(qs.get("after") || "") ? qs.get("after") : "",
    before: DATE.test(qs.get("before") || "") ? qs.get("before") : "",
  };
  let query = null;
  const q = (qs.get("q") || "").trim();
  const similar = qs.get("similar") || "";
  if (q) query = { kind: "text", value: q };
  else if (/^[1-9]\d{0,18}$/.test(similar)) query = { kind: "similar", value: similar };
  return { query, filters: f };
}

// The folder box as the API's path glob: a glob (* ? [) is sent as written; a folder is
// matched anywhere in the path ("photos/2023" -> "*/photos/2023/*"), or from the root
// when it starts with "/" ("/data/photos" -> "/data/photos/*").
function pathGlob(text) {
  if (!text) return "";
  if (/[*?[]/.test(text)) return text;
  const folder = text.replace(/\/+$/, "");
  if (!folder) return "/*";
  return (folder.startsWith("/") ? folder : "*/" + folder) + "/*";
}

// The filters as API parameters; the dates are whole local days, both included.
function apiFilters(f) {
  const out = [];
  for (const kind of f.modality) out.push(["modality", kind]);
  if (f.path) out.push(["path", pathGlob(f.path)]);
  if (f.place) out.push(["place", f.place]);
  if (f.camera) out.push(["camera", f.camera]);
  if (f.after) out.push(["after", new Date(f.after + "T00:00:00").toISOString()]);
  if (f.before) out.push(["before", new Date(f.before + "T23:59:59.999").toISOString()]);
  return out;
}

// -- results -----------------------------------------------------------------------------

const STOP = new Set("and are but for from had has have her his its not our the their them then there these they this was were what when where which who will with you your".split(" "));

function highlight(el, text, query, spans) {
  // the server's spans (hybrid and keyword hits: words, codes, Chinese substrings as
  // matched by the keyword index) when it sent them; else the query's words, client-side
  if (Array.isArray(spans) && spans.length) {
    el.textContent = "";
    let at = 0;
    for (const [a, b] of spans) {
      if (a < at || b > text.length) continue;
      el.appendChild(document.createTextNode(text.slice(at, a)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(a, b);
      el.appendChild(mark);
      at = b;
    }
    el.appendChild(document.createTextNode(text.slice(at)));
    return;
  }
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
  if (Array.isArray(hit.found_by)) node.dataset.foundBy = hit.found_by.join(" ");
  node.querySelector(".name").textContent = hit.name;
  node.querySelector(".name").title = hit.path;
  node.querySelector(".name").setAttribute("aria-label", "Open " + hit.name);
  HITS.set(node, hit);
  node.querySelector(".score").textContent = hit.score.toFixed(3);
  const media = node.querySelector(".media");
  const passage = node.querySelector(".passage");
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = hit.modality;
  node.querySelector(".meta").prepend(badge);
  const facts = [hit.date_source === "taken" ? "taken " + hit.date.slice(0, 10) : "", hit.place || "", hit.camera || ""]
    .filter(Boolean);
  if (facts.length) {
    const about = document.createElement("span");
    about.className = "facts";
    about.textContent = facts.join(" · ");
    node.querySelector(".meta").appendChild(about);
  }
  if (hit.modality === "image") {
    const img = document.createElement("img");
    img.src = hit.thumbnail_url;
    img.alt = altText(hit);
    img.loading = "lazy";
    media.appendChild(img);
    if (hit.kind === "ocr") showTextInImage(node, media, img, passage, hit, query);
    else passage.remove();
  } else if (hit.modality === "audio" || hit.modality === "video") {
    // a video plays in a <video> element, from the second its key frame is seen (or the
    // transcript window's moment), like a recording
    const from = hit.moment != null ? hit.moment : hit.start;
    const audio = document.createElement(hit.modality);
    audio.controls = true;
    audio.setAttribute("aria-label", (hit.modality === "video" ? "Video " : "Recording ") + hit.name +
      ", from " + clock(from));
    if (hit.modality === "video") audio.playsInline = true;
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
    play.setAttribute("aria-label", "Play " + hit.name + " from " + clock(from));
    play.addEventListener("click", () => { audio.currentTime = from; audio.play(); });
    media.appendChild(play);
    const when = document.createElement("div");
    when.className = "when";
    when.textContent = hit.kind === "frame" ? "seen at " + clock(hit.start)
      : hit.kind === "sound" ? "heard at " + clock(hit.start) + " – " + clock(hit.end)
      : clock(hit.start) + " – " + clock(hit.end);
    media.appendChild(when);
    if (hit.kind === "frame") {
      passage.remove();
    } else if (hit.kind === "sound") {
      node.dataset.kind = "sound";
      highlight(passage, hit.text || "", query, hit.highlights);
    } else {
      highlight(passage, hit.text || "", query, hit.highlights);
      showTranscriptLines(hit, passage, audio, from, query);
    }
  } else {
    if (hit.page != null) showPage(node, media, hit);
    highlight(passage, hit.text || "", query, hit.highlights);
  }
  showEvidence(node, hit);
  node.querySelector(".similar").setAttribute("aria-label", "More like " + hit.name);
  node.querySelector(".similar").addEventListener("click",
    () => search({ kind: "similar", value: String(hit.id), label: hit.name }));
  return node;
}

const EVIDENCE_SHOWN = 4;

function shorten(text, n) {
  const t = String(text || "").replace(/\s+/g, " ").trim();
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

// Where a unit of a hit's file is, in words: "0:12.0", "p. 3", "text in image", "seen at 0:03.0".
function unitPlace(hit, u) {
  if (u.kind === "window" || u.kind === "sound") return clock(u.moment != null ? u.moment : (u.start || 0));
  if (u.kind === "frame") return "seen at " + clock(u.start || 0);
  if (u.kind === "ocr") return "text in image";
  if (u.kind === "place") return "place";
  if (u.page != null) return (hit.location === "slide" ? "slide " : hit.location === "chapter" ? "chapter " : "p. ") + u.page;
  if (u.kind === "image") return "the photo";
  return "passage";
}

// The file's other matching units (moments, pages, passages, text boxes), each a button
// opening the viewer there.
function showEvidence(node, hit) {
  const list = node.querySelector(".evidence");
  const units = Array.isArray(hit.evidence) ? hit.evidence : [];
  if (!units.length) { list.remove(); return; }
  list.hidden = false;
  list.setAttribute("aria-label", "Other matches in " + hit.name);
  units.slice(0, EVIDENCE_SHOWN).forEach((u, i) => {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "unit";
    open.dataset.unit = String(i);
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = unitPlace(hit, u);
    open.append(where);
    if (u.text && u.kind !== "frame") open.append(" " + shorten(u.text, 70));
    open.setAttribute("aria-label", "Open " + hit.name + " at " + unitPlace(hit, u) + (u.text ? ": " + shorten(u.text, 40) : ""));
    item.appendChild(open);
    list.appendChild(item);
  });
  if (units.length > EVIDENCE_SHOWN) {
    const rest = document.createElement("li");
    rest.className = "rest";
    rest.textContent = "and " + (units.length - EVIDENCE_SHOWN) + " more in the viewer";
    list.appendChild(rest);
  }
}

// What the results are like: the uploaded picture, or the item "more like this" started from.
let shownPicture = null;
async function showQuerySource(query) {
  const box = $("#query-source"), img = $("#query-picture"), caption = $("#query-caption");
  if (shownPicture) { URL.revokeObjectURL(shownPicture); shownPicture = null; }
  if (query.kind === "text") { box.hidden = true; return; }
  img.hidden = true;
  img.removeAttribute("src");
  if (query.kind === "image") {
    shownPicture = URL.createObjectURL(query.value);
    img.src = shownPicture;
    img.alt = "The picture searched with" + (query.value.name ? ": " + query.value.name : "");
    img.hidden = false;
    caption.textContent = "Results like this picture" + (query.value.name ? " (" + query.value.name + ")" : "");
  } else {
    caption.textContent = "More like " + (query.label || "item " + query.value);
    const item = await api(`${ROOT}/api/items/${query.value}`).catch(() => null);
    if (item) {
      caption.textContent = "More like " + item.name;
      const path = document.createElement("code");
      path.textContent = item.path;
      caption.append(" ", path);
      if (item.thumbnail_url) {
        img.src = item.thumbnail_url;
        img.alt = "Photo " + item.name + ", the item these results are like";
        img.hidden = false;
      }
    }
  }
  box.dataset.kind = query.kind;
  box.hidden = false;
}

// A passage of a document with pages: where it is ("p. 2", "slide 3", "chapter 4"), the
// page's thumbnail (PDF), and a link opening the file there (a PDF viewer honours #page=N).
function showPage(node, media, hit) {
  const where = hit.location === "slide" ? "slide " : hit.location === "chapter" ? "chapter " : "p. ";
  if (hit.thumbnail_url) {
    const img = document.createElement("img");
    img.src = hit.thumbnail_url;
    img.alt = hit.name + " " + where + hit.page;
    img.loading = "lazy";
    media.appendChild(img);
  }
  const open = document.createElement("a");
  open.className = "page";
  open.href = hit.media_url;
  open.target = "_blank";
  open.rel = "noopener";
  open.textContent = where + hit.page;
  node.querySelector(".meta").appendChild(open);
}

// A hit on text read in a picture: the whole picture (not cropped) with the text's box
// drawn over it, and the passage under a "text in image" label.
function showTextInImage(node, media, img, passage, hit, query) {
  node.dataset.kind = "ocr";
  const frame = document.createElement("span");
  frame.className = "picture";
  media.replaceChild(frame, img);
  frame.appendChild(img);
  if (Array.isArray(hit.box) && hit.box.length === 4) {
    const [x0, y0, x1, y1] = hit.box.map((v) => Math.min(1, Math.max(0, Number(v) || 0)));
    const mark = document.createElement("span");
    mark.className = "text-box";
    mark.title = "text in image";
    Object.assign(mark.style, { left: `${x0 * 100}%`, top: `${y0 * 100}%`,
                                width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` });
    frame.appendChild(mark);
  }
  const label = document.createElement("span");
  label.className = "badge ocr";
  label.textContent = "text in image";
  node.querySelector(".meta").prepend(label);
  highlight(passage, hit.text || "", query, hit.highlights);
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

let weakHidden = false;

// The divider before the weaker matches, and its show/hide toggle.
function updateDivider() {
  const list = $("#results");
  const weak = list.querySelectorAll(".hit.weak").length;
  let divider = $("#weak-divider");
  if (!weak) { if (divider) divider.remove(); return; }
  if (!divider) {
    divider = $("#divider-template").content.firstElementChild.cloneNode(true);
    divider.querySelector("#weak-toggle").addEventListener("click", () => {
      weakHidden = !weakHidden;
      updateDivider();
    });
    list.insertBefore(divider, list.querySelector(".hit.weak"));
  }
  const strong = list.querySelectorAll(".hit.strong").length;
  divider.classList.toggle("none-strong", !strong);
  divider.querySelector(".weak-count").textContent =
    (strong ? "" : "no strong match · ") + weak + (weak === 1 ? " result" : " results") + " below the cut";
  const toggle = divider.querySelector("#weak-toggle");
  toggle.textContent = (weakHidden ? "Show " : "Hide ") + weak + " weaker " + (weak === 1 ? "match" : "matches");
  toggle.setAttribute("aria-expanded", String(!weakHidden));
  list.classList.toggle("hide-weak", weakHidden);
}

function describe(query) {
  return query.kind === "text" ? `“${query.value}”` : query.kind === "image" ? "this image"
    : `items like ${query.label || "item " + query.value}`;
}

async function run(query, filters, offset) {
  await session;
  const mine = offset === 0 ? ++generation : generation;
  lastQuery = Object.assign({}, query, { filters, offset });
  const started = performance.now();
  if (filters.after && filters.before && filters.after > filters.before) {
    setStatus("The date window is empty: “from” is later than “to”.", true);
    return;
  }
  setStatus("Searching…");
  try {
    const fields = apiFilters(filters);
    let body;
    if (query.kind === "text") {
      const qs = new URLSearchParams([["q", query.value], ["k", PAGE], ["offset", offset], ...fields]);
      body = await api(ROOT + "/api/search?" + qs);
    } else if (query.kind === "image") {
      const form = new FormData();
      form.append("file", query.value);
      form.append("k", PAGE);
      form.append("offset", offset);
      for (const [name, value] of fields) form.append(name, value);
      body = await api(ROOT + "/api/search/image", { method: "POST", body: form });
    } else {
      const qs = new URLSearchParams([["k", PAGE], ["offset", offset], ...fields]);
      if (!query.label) {
        const item = await api(`${ROOT}/api/items/${query.value}`).catch(() => null);
        if (item) query.label = lastQuery.label = item.name;
      }
      body = await api(`${ROOT}/api/items/${query.value}/similar?` + qs);
    }
    if (mine !== generation) return;  // a newer search has started meanwhile
    const list = $("#results");
    if (offset === 0) {
      showQuerySource(query);
      list.textContent = "";
      list.classList.remove("hide-weak");
      weakHidden = false;
    }
    const words = query.kind === "text" ? query.value : "";
    // the cut is read from the first page; later pages lie below it
    const cut = offset === 0 ? strongCount(body.hits.map((h) => h.score)) : 0;  // unused when hits say

    body.hits.forEach((hit, rank) => {
      const node = renderHit(hit, words);
      const strong = isStrong(hit, rank, cut);
      node.classList.add(strong ? "strong" : "weak");
      // strong hits go above the divider (a keyword hit may rank below weaker ones)
      const anchor = strong && ($("#weak-divider") || list.querySelector(".hit.weak"));
      if (anchor) list.insertBefore(node, anchor);
      else list.appendChild(node);
    });
    updateDivider();
    $("#more").hidden = body.next_offset == null;
    const ms = Math.round(performance.now() - started);
    const count = list.querySelectorAll(".hit").length;
    const strong = list.querySelectorAll(".hit.strong").length;
    const split = count === strong ? "" : strong ? `, ${strong} strong` : ", none strong";
    setStatus(count ? `${count} results for ${describe(query)}${split} (${ms} ms)` : `No matches for ${describe(query)}.`);
    document.title = (query.kind === "text" ? query.value : describe(query)) + " – searchengine";
  } catch (err) {
    if (mine === generation) {
      setStatus(err.message, true);
      if (offset === 0) $("#query-source").hidden = true;
    }
  }
}

// A new search from the page: the address gets a history entry (unless it is the same
// search again), then it runs.
function search(query, filters = readFilters()) {
  let state = null;
  if (query.kind === "image") {
    query.key = query.key || String(Date.now()) + Math.random();
    images.set(query.key, query.value);
    state = { image: query.key };
  }
  $("#q").value = query.kind === "text" ? query.value : "";
  const url = urlOf(query, filters);
  const here = location.pathname + location.search;
  if (url === here && query.kind !== "image") history.replaceState(state, "", url);
  else history.pushState(state, "", url);
  return run(query, filters, 0);
}

// Show the search in the address (page load, back/forward, a bookmark) without a new entry.
function restore(state) {
  const { query, filters } = readUrl();
  writeFilters(filters);
  $("#q").value = query && query.kind === "text" ? query.value : "";
  if (query) return run(query, filters, 0);
  const file = state && state.image && images.get(state.image);
  if (file) return run({ kind: "image", value: file, key: state.image }, filters, 0);
  generation++;
  lastQuery = null;
  $("#results").textContent = "";
  $("#query-source").hidden = true;
  $("#more").hidden = true;
  document.title = "searchengine";
  setStatus(state && state.image ? "An image search can't be restored from the address: drop the image again." : "");
}

// -- wiring ------------------------------------------------------------------------------

// The text in the box, or else the image or similar search on screen (with new filters).
function searchAgain() {
  const q = $("#q").value.trim();
  if (q) { search({ kind: "text", value: q }); return true; }
  if (lastQuery && lastQuery.kind !== "text") { search(lastQuery); return true; }
  return false;
}
$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!searchAgain()) setStatus("Type something to search for, or drop an image.", true);
});
function filtersChanged() {
  if (lastQuery) searchAgain();
}
for (const el of $$('#kinds input, #after, #before, #path, #place, #camera')) el.addEventListener("change", filtersChanged);
$("#clear-filters").addEventListener("click", () => {
  writeFilters({ modality: [], path: "", place: "", camera: "", after: "", before: "" });
  filtersChanged();
});
// On a phone the filters fold away behind a toggle (saying how many are set).
function updateFiltersToggle() {
  const f = readFilters();
  const set = f.modality.length + ["path", "place", "camera", "after", "before"].filter((k) => f[k]).length;
  $("#filters-toggle").textContent = set ? `Filters (${set})` : "Filters";
}
$("#filters-toggle").addEventListener("click", () => {
  const open = !$("#filters").classList.contains("open");
  $("#filters").classList.toggle("open", open);
  $("#filters-toggle").setAttribute("aria-expanded", String(open));
});
for (const el of $$("#filters input")) el.addEventListener("change", updateFiltersToggle);
$("#more").addEventListener("click", () => run(lastQuery, lastQuery.filters, lastQuery.offset + PAGE));
$("#image-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) search({ kind: "image", value: file });
  event.target.value = "";  // picking the same file again is a new search
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
  if (file) search({ kind: "image", value: file });
});
document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.matches("input, textarea, select")) { event.preventDefault(); $("#q").focus(); }
});
window.addEventListener("popstate", (event) => restore(event.state));
restore(history.state);

// A picture's alternative text from what is known of its content: the text read in it (this
// hit's, or its file's other matching boxes), else its name.
function altText(hit) {
  const words = [hit.text, ...(Array.isArray(hit.evidence) ? hit.evidence.map((e) => e.text) : [])]
    .filter(Boolean).join(" ").replace(/\s+/g, " ").trim();
  return words ? "Photo " + hit.name + " showing the text: " + words.slice(0, 160) : "Photo " + hit.name;
}
