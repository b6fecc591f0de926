// The viewer: a result opened in full (the photo with its text boxes, a passage in its
// text, a recording or video from its moment, a PDF at its page), with the path to copy and
// the arrow keys, the buttons or a swipe moving between results. Uses app.js's helpers.
"use strict";

const viewer = $("#viewer");
let viewing = null;   // {node, hit, unit}: the result on screen and which of its units
let viewSerial = 0;   // bumped by every view; late answers for an earlier one are dropped
let opener = null;    // what had the focus before the viewer opened

function shownHits() {
  return $$("#results .hit").filter((node) => node.offsetParent !== null && HITS.has(node));
}

const isPdf = (hit) => /\.pdf$/i.test(hit.path || "");
const bare = (url) => String(url || "").split("#")[0];
// Pictures a browser draws itself; others (camera RAW, HEIC, TIFF) are shown by their
// largest thumbnail, which the server decodes.
const DRAWN = /\.(jpe?g|png|gif|webp|bmp|avif)$/i;
function pictureUrl(hit) {
  if (DRAWN.test(hit.name || "") || !hit.thumbnail_url) return bare(hit.media_url);
  const url = new URL(bare(hit.thumbnail_url), location.href);
  url.searchParams.set("size", "512");
  return url.href;
}

function openViewer(node, unit = null) {
  const hit = HITS.get(node);
  if (!hit) return;
  if (!viewer.open) {
    opener = document.activeElement;
    viewer.showModal();
  }
  show(node, hit, unit || hit);
  viewer.focus();
}

function closeViewer() {
  if (viewer.open) viewer.close();
}

// Move to the result `step` places away (wrapping neither way).
function step(delta) {
  if (!viewing) return;
  const nodes = shownHits();
  const at = nodes.indexOf(viewing.node);
  const next = nodes[at + delta];
  if (next) show(next, HITS.get(next), HITS.get(next));
}

function show(node, hit, unit) {
  const serial = ++viewSerial;
  viewing = { node, hit, unit };
  const nodes = shownHits();
  const at = nodes.indexOf(node);
  $("#viewer-title").textContent = hit.name;
  $("#viewer-position").textContent = at >= 0 ? `${at + 1} of ${nodes.length}` : "";
  $("#viewer-prev").disabled = at <= 0;
  $("#viewer-next").disabled = at < 0 || at >= nodes.length - 1;
  $("#viewer-path").textContent = hit.path;
  $("#copy-said").textContent = "";
  const open = $("#viewer-open");
  open.href = unit.page != null && isPdf(hit) ? bare(hit.media_url) + "#page=" + unit.page : bare(hit.media_url);
  const body = $("#viewer-body"), text = $("#viewer-text");
  body.textContent = "";
  body.hidden = false;
  text.textContent = "";
  body.dataset.modality = hit.modality;
  viewer.dataset.id = String(unit.id);
  if (hit.modality === "image") showPhoto(body, hit, unit, serial);
  else if (hit.modality === "audio" || hit.modality === "video") showPlayer(body, text, hit, unit, serial);
  else showPassage(body, text, hit, unit, serial);
  showUnits(hit, unit);
}

// The original photo, fitted to the viewer, with every line of text read in it boxed (the
// ones that matched drawn stronger).
function showPhoto(body, hit, unit, serial) {
  const frame = document.createElement("div");
  frame.className = "viewer-picture";
  const img = document.createElement("img");
  img.src = pictureUrl(hit);
  img.alt = altText(hit);
  img.addEventListener("load", () => fitPicture(img));
  frame.appendChild(img);
  body.appendChild(frame);
  const matched = new Set([hit.id, ...(hit.evidence || []).map((e) => e.id)]);
  api(`${ROOT}/api/items/${hit.id}`).then((item) => {
    if (serial !== viewSerial) return;
    for (const line of item.text_in_image || []) {
      const [x0, y0, x1, y1] = line.box;
      const mark = document.createElement("span");
      mark.className = "text-box" + (matched.has(line.id) ? " matched" : "") + (line.id === unit.id ? " current" : "");
      mark.title = line.text;
      mark.dataset.text = line.text;
      Object.assign(mark.style, { left: `${x0 * 100}%`, top: `${y0 * 100}%`,
                                  width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` });
      frame.appendChild(mark);
    }
    const lines = (item.text_in_image || []).map((l) => l.text).filter(Boolean);
    if (lines.length) {
      const said = document.createElement("p");
      said.className = "read-text";
      said.textContent = "Text in the picture: " + lines.join(" · ");
      $("#viewer-text").appendChild(said);
    }
  }).catch(() => {});
}

// The largest size that fits the viewer (a small original is scaled up to it).
function fitPicture(img) {
  if (!img.naturalWidth || !img.isConnected) return;
  const body = $("#viewer-body");
  const width = body.clientWidth, height = Math.max(220, window.innerHeight * 0.62);
  const scale = Math.min(width / img.naturalWidth, height / img.naturalHeight);
  img.style.width = Math.max(1, Math.floor(img.naturalWidth * scale)) + "px";
}
window.addEventListener("resize", () => {
  const img = $("#viewer-body .viewer-picture img");
  if (img) fitPicture(img);
});

// A recording or video, started from the unit's moment, with its transcript lines.
function showPlayer(body, text, hit, unit, serial) {
  const from = unit.moment != null ? unit.moment : (unit.start || 0);
  const player = document.createElement(hit.modality);
  player.controls = true;
  player.preload = "auto";
  player.setAttribute("aria-label", (hit.modality === "video" ? "Video " : "Recording ") + hit.name + ", from " + clock(from));
  if (hit.modality === "video") player.playsInline = true;
  player.src = bare(hit.media_url) + "#t=" + from.toFixed(2);
  player.dataset.start = String(from);
  player.addEventListener("loadedmetadata", () => {
    if (Math.abs(player.currentTime - from) > 0.5) player.currentTime = from;
    player.play().catch(() => {});  // a browser may want a gesture first: the controls are there
  }, { once: true });
  body.appendChild(player);
  const when = document.createElement("p");
  when.className = "when";
  when.textContent = "from " + clock(from);
  body.appendChild(when);
  if (unit.text && unit.kind === "sound") {
    when.textContent += " · " + unit.text;
  }
  api(`${ROOT}/api/items/${hit.id}`).then((item) => {
    if (serial !== viewSerial) return;
    const segments = (item.transcript && item.transcript.segments) || [];
    if (!segments.length) return;
    const list = document.createElement("ol");
    list.className = "transcript";
    list.setAttribute("aria-label", "Transcript of " + hit.name);
    let current = null;
    for (const [start, end, words] of segments.slice(0, 3000)) {
      const line = document.createElement("li");
      const go = document.createElement("button");
      go.type = "button";
      go.className = "line";
      const t = document.createElement("span");
      t.className = "t";
      t.textContent = clock(start);
      const said = document.createElement("span");
      highlight(said, words, lastQuery && lastQuery.kind === "text" ? lastQuery.value : "");
      go.append(t, " ", said);
      go.addEventListener("click", () => { player.currentTime = start; player.play().catch(() => {}); });
      line.appendChild(go);
      line.dataset.start = String(start);
      line.dataset.end = String(end);
      if (!current && end > from) { current = line; line.classList.add("current"); }
      list.appendChild(line);
    }
    text.appendChild(list);
    if (current) current.scrollIntoView({ block: "nearest" });
    player.addEventListener("timeupdate", () => {
      const now = player.currentTime;
      for (const line of list.children) {
        line.classList.toggle("playing", Number(line.dataset.start) <= now && now < Number(line.dataset.end));
      }
    });
  }).catch(() => {});
}

// A note's passage in its surrounding text; a PDF shown at its page (or the page's picture
// where the browser shows no PDFs), with the passage's text below.
function showPassage(body, text, hit, unit, serial) {
  if (unit.page != null && isPdf(hit)) {
    const url = bare(hit.media_url) + "#page=" + unit.page;
    const pdf = document.createElement("object");
    pdf.className = "pdf";
    pdf.type = "application/pdf";
    pdf.data = url;
    pdf.setAttribute("aria-label", hit.name + ", page " + unit.page);
    if (hit.thumbnail_url) {  // what a browser without a PDF viewer shows instead
      const page = document.createElement("img");
      page.src = bare(hit.thumbnail_url).replace(/\/api\/items\/\d+\//, `/api/items/${unit.id}/`) +
        (hit.thumbnail_url.includes("?") ? "" : "?size=512");
      page.alt = hit.name + " page " + unit.page;
      pdf.appendChild(page);
    }
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Open " + hit.name + " at page " + unit.page;
    pdf.appendChild(link);
    body.appendChild(pdf);
  } else {
    body.hidden = true;
  }
  const passage = document.createElement("div");
  passage.className = "context";
  passage.setAttribute("tabindex", "0");
  passage.setAttribute("aria-label", "The passage in its text");
  const words = lastQuery && lastQuery.kind === "text" ? lastQuery.value : "";
  const own = document.createElement("mark");
  own.className = "passage-hit";
  highlight(own, unit.text || "", words, unit.id === hit.id ? hit.highlights : unit.highlights);
  passage.appendChild(own);
  text.appendChild(passage);
  api(`${ROOT}/api/items/${unit.id}`).then((item) => {
    if (serial !== viewSerial || !item.context) return;
    const c = item.context;
    passage.textContent = "";
    passage.append((c.cut_before ? "… " : "") + c.text.slice(0, c.start));
    own.textContent = "";
    highlight(own, c.text.slice(c.start, c.end), words);
    passage.append(own, c.text.slice(c.end) + (c.cut_after ? " …" : ""));
    own.scrollIntoView({ block: "center" });
  }).catch(() => {});
}

// The file's matching units in the viewer, the one on screen marked; each shows its place.
function showUnits(hit, unit) {
  const list = $("#viewer-evidence");
  list.textContent = "";
  const units = [hit, ...(hit.evidence || [])];
  list.hidden = units.length < 2;
  for (const u of units) {
    const item = document.createElement("li");
    const go = document.createElement("button");
    go.type = "button";
    go.className = "unit" + (u.id === unit.id ? " current" : "");
    if (u.id === unit.id) go.setAttribute("aria-current", "true");
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = unitPlace(hit, u);
    go.append(where);
    if (u.text && u.kind !== "frame") go.append(" " + shorten(u.text, 90));
    go.addEventListener("click", () => show(viewing.node, hit, u));
    item.appendChild(go);
    list.appendChild(item);
  }
}

// The path to the clipboard: the Clipboard API where the page may use it, else a selected
// text area and the copy command.
async function copyText(value) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch (err) { /* refused (no focus, no permission): try the old way */ }
  const area = document.createElement("textarea");
  area.value = value;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  viewer.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
  area.remove();
  return ok;
}

$("#copy-path").addEventListener("click", async () => {
  const ok = await copyText($("#viewer-path").textContent);
  $("#copy-said").textContent = ok ? "Copied" : "Select the path and copy it (the browser refused)";
  if (!ok) window.getSelection().selectAllChildren($("#viewer-path"));
});

// -- opening, closing, moving ------------------------------------------------------------

$("#results").addEventListener("click", (event) => {
  const unit = event.target.closest(".evidence button.unit");
  const node = event.target.closest(".hit");
  if (!node) return;
  if (unit) {
    const hit = HITS.get(node);
    openViewer(node, hit && hit.evidence[Number(unit.dataset.unit)]);
    return;
  }
  // the card opens, but not its own controls (play, transcript lines, more like this)
  if (event.target.closest("button:not(.open), a, audio, video, input")) return;
  openViewer(node);
});
$("#results").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.classList.contains("hit")) openViewer(event.target);
});
$("#viewer-close").addEventListener("click", closeViewer);
$("#viewer-prev").addEventListener("click", () => step(-1));
$("#viewer-next").addEventListener("click", () => step(1));
viewer.addEventListener("click", (event) => { if (event.target === viewer) closeViewer(); });  // the backdrop
document.addEventListener("keydown", (event) => {
  if (!viewer.open) return;
  if (event.target.matches("input, textarea, select, audio, video, object")) return;  // their own arrows
  if (event.key === "ArrowRight") { event.preventDefault(); step(1); }
  else if (event.key === "ArrowLeft") { event.preventDefault(); step(-1); }
});
viewer.addEventListener("close", () => {
  const node = viewing && viewing.node;
  $("#viewer-body").textContent = "";  // stops a player
  $("#viewer-body").hidden = false;
  $("#viewer-text").textContent = "";
  viewing = null;
  viewSerial++;
  // back to the result last shown (after moving, not the one first opened)
  const target = node && node.isConnected ? node.querySelector(".open") : opener;
  if (target && target.focus) {
    target.focus();
    if (node) node.scrollIntoView({ block: "nearest" });
  }
  opener = null;
});

// A swipe across the viewer (more sideways than up or down) moves between results.
let touchAt = null;
viewer.addEventListener("touchstart", (event) => {
  const t = event.changedTouches[0];
  touchAt = t ? { x: t.clientX, y: t.clientY } : null;
}, { passive: true });
viewer.addEventListener("touchend", (event) => {
  const t = event.changedTouches[0];
  if (!touchAt || !t) return;
  const dx = t.clientX - touchAt.x, dy = t.clientY - touchAt.y;
  touchAt = null;
  if (Math.abs(dx) >= 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
}, { passive: true });

// Back or forward brings another search: the viewer's results are gone with it.
window.addEventListener("popstate", closeViewer);
