// qaug review: one original per screen, keyboard first. Talks only to the server that served it.
"use strict";
const $ = (s) => document.querySelector(s);
const state = { meta: null, pages: new Map(), total: 0, pos: 0, view: null, sel: 0, seen: 0, editing: false };
const params = new URLSearchParams(location.search);
let me = params.get("reviewer") || localStorage.getItem("qaug-reviewer");
if (!me) { me = "r-" + Math.random().toString(36).slice(2, 8); }
localStorage.setItem("qaug-reviewer", me);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
}
function notice(msg) {
  const n = $("#notice"); n.textContent = msg; n.classList.add("show");
  clearTimeout(notice.t); notice.t = setTimeout(() => n.classList.remove("show"), 1800);
}
async function api(path, body) {
  const r = await fetch(path, body ? { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" } } : {});
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
function filterQuery() {
  const q = new URLSearchParams();
  for (const [k, id] of [["method", "#f-method"], ["status", "#f-status"], ["code", "#f-code"], ["q", "#f-q"]]) {
    const v = $(id).value; if (v) q.set(k, v);
  }
  return q;
}
const PAGE = 1000;
async function page(n) {  // group numbers in pages of PAGE: the browser never holds the whole list
  if (!state.pages.has(n)) {
    const q = filterQuery(); q.set("start", n * PAGE); q.set("limit", PAGE);
    const got = await api("/api/groups?" + q);
    state.total = got.total; state.pages.set(n, got.groups);
    if (state.pages.size > 64) state.pages.delete(state.pages.keys().next().value);
  }
  return state.pages.get(n);
}
async function groupAt(pos) { return (await page(Math.floor(pos / PAGE)))[pos % PAGE]; }
async function loadList(keepGroup) {
  state.pages = new Map(); state.pos = 0;
  await page(0);
  if (keepGroup != null) {  // the position of that group in this filter, looked up page by page
    for (let n = 0; n * PAGE < state.total && n < 2000; n++) {
      const at = (await page(n)).indexOf(keepGroup);
      if (at >= 0) { state.pos = n * PAGE + at; break; }
      if ((await page(n)).length && (await page(n))[(await page(n)).length - 1] > keepGroup) break;
    }
  }
  await show(0);
}
async function show(sel) {
  if (!state.total) {
    state.view = null;
    $("#main").replaceChildren(el("p", { class: "empty", text: "Nothing matches these filters." }));
    $("#pos").textContent = "0 / 0"; return;
  }
  const g = await groupAt(state.pos);
  state.view = await api("/api/group?g=" + g);
  state.sel = Math.max(0, Math.min(sel === -1 ? state.view.items.length - 1 : sel, state.view.items.length - 1));
  localStorage.setItem("qaug-pos:" + state.meta.file, String(g));
  render();
}
function diffNode(ops) {
  const d = el("div", { class: "text" });
  for (const [op, t] of ops) {
    if (op === "=") d.append(t);
    else if (op === "-") d.append(el("del", { title: "removed", text: t }));
    else d.append(el("ins", { title: "added", text: t }));
  }
  return d;
}
const DECIDED = { accept: "✔ accepted", reject: "✘ rejected", edit: "✎ edited, accepted", promote: "⬆ promoted" };
function card(it, n) {
  const c = el("section", { class: "card " + it.status + (n === state.sel ? " selected" : ""), "data-id": it.id,
    "data-n": String(n) });
  const head = el("div", { class: "head" },
    el("span", { class: "badge " + it.status, text: it.status === "kept" ? "KEPT" : "REJECTED" }),
    it.flagged ? el("span", { class: "badge flagged", text: "⚑ REVIEW" }) : null,
    el("span", { class: "meta" }, "method ", el("b", { text: it.method || "?" })),
    it.model ? el("span", { class: "meta" }, "model ", el("b", { text: it.model })) : null,
    it.score != null ? el("span", { class: "meta" }, "score ", el("b", { text: String(it.score) })) : null,
    it.stage ? el("span", { class: "meta" }, "stage ", el("b", { text: it.stage })) : null,
    el("span", { class: "id", text: it.id }));
  c.append(head);
  if (it.status === "rejected") {
    c.append(el("div", { class: "reason" }, el("b", { text: it.code || "rejected" }), ": " + (it.reason || "")));
  }
  const chips = el("div", { class: "chips" });
  if (it.judge && typeof it.judge === "object") {
    for (const [k, v] of Object.entries(it.judge)) {
      const bad = (k === "same_meaning" || k === "parts_kept") ? (Array.isArray(v) ? v.includes(false) : !v) : v === true;
      chips.append(el("span", { class: "chip" + (bad ? " bad" : ""), text: "judge " + k.replace(/_/g, " ") + ": " +
        (Array.isArray(v) ? v.map((x) => (x ? "yes" : "no")).join(",") : (v ? "yes" : "no")) }));
    }
  }
  if (it.info && typeof it.info === "object") {
    for (const [k, v] of Object.entries(it.info)) {
      if (k === "judge") continue;
      const s = typeof v === "string" ? v : JSON.stringify(v);
      chips.append(el("span", { class: "chip", text: k + ": " + (s.length > 80 ? s.slice(0, 80) + "…" : s) }));
    }
  }
  if (chips.childNodes.length) c.append(chips);
  for (const f of it.fields) {
    c.append(el("div", { class: "field" }, el("div", { class: "label", text: f.label }), diffNode(f.diff)));
  }
  const d = it.decision;
  if (d) {
    const line = el("div", { class: "decision " + d.decision, text: (DECIDED[d.decision] || d.decision) +
      (d.time ? " · " + d.time.replace("T", " ").replace("Z", " UTC") : "") });
    if (d.reviewer && d.reviewer !== me) line.append(" ", el("span", { class: "other",
      text: "decided by another reviewer: " + d.reviewer }));
    c.append(line);
    if (d.decision === "edit") for (const e of editsOf(d)) c.append(el("div", { class: "field" },
      el("div", { class: "label", text: "edited " + e.field.join(".") }), el("div", { class: "text", text: e.text })));
  } else {
    c.append(el("div", { class: "decision muted", text: "undecided" }));
  }
  c.addEventListener("click", () => { state.sel = n; render(); });
  return c;
}
function render() {
  const v = state.view;
  $("#pos").textContent = `original ${state.pos + 1} / ${state.total}`;
  const orig = el("section", { class: "card original" },
    el("div", { class: "head" }, el("span", { class: "badge original", text: "ORIGINAL" }),
      el("span", { class: "id", text: v.original_id })));
  for (const f of v.original) orig.append(el("div", { class: "field" }, el("div", { class: "label", text: f.label }),
    el("div", { class: "text", text: f.text })));
  const kids = [orig];
  if (!v.items.length) kids.push(el("p", { class: "empty", text: "No candidates for this original." }));
  v.items.forEach((it, n) => kids.push(card(it, n)));
  $("#main").replaceChildren(...kids);
  const s = document.querySelector(".card.selected");
  if (s) s.scrollIntoView({ block: "nearest" });
}
function current() { return state.view && state.view.items[state.sel]; }
async function decide(decision, extra) {
  const it = current(); if (!it) return;
  if (decision === "promote" && it.status !== "rejected") { notice("only a rejected candidate can be promoted"); return; }
  if (decision === "promote" && !it.promotable) { notice("no candidate to promote (a model error, or cut off)"); return; }
  const body = { id: it.id, parent: state.view.original_id, decision, reviewer: me, ...(extra || {}) };
  if (decision === "promote" && it.fields.length && !body.field) { body.field = it.fields[0].path; body.text = it.fields[0].text; }
  const got = await api("/api/decide", body);
  it.decision = got.decision.decision === "undo" ? (got.decision.restore || null) : got.decision;
  state.seen = Math.max(state.seen, got.count);
  notice(decision === "undo" ? "undone" : (DECIDED[decision] || decision));
  render();
}
function editsOf(d) { return d.edits && d.edits.length ? d.edits : [{ field: d.field, text: d.text }]; }
function edit() {
  const it = current(); if (!it || !it.fields.length) return;
  if (it.status === "rejected" && !it.promotable) { notice("no candidate to promote (a model error, or cut off)"); return; }
  // one box per changed field; a field edited before starts from its edited text
  const before = it.decision && it.decision.decision === "edit" ? editsOf(it.decision) : [];
  const c = document.querySelector(".card.selected");
  const box = el("div", { class: "field editor" });
  const areas = it.fields.map((f) => {
    const ta = el("textarea", { "aria-label": "edit " + f.label });
    const old = before.find((e) => e.field.join("\u0000") === f.path.join("\u0000"));
    ta.value = old ? old.text : f.text;
    box.append(el("div", { class: "label", text: "edit " + f.label }), ta);
    return ta;
  });
  const save = el("button", { text: "save (Ctrl+Enter)" }), cancel = el("button", { text: "cancel (Esc)" });
  box.append(save, " ", cancel);
  c.append(box); state.editing = true; areas[0].focus();
  const done = () => { state.editing = false; box.remove(); };
  const commit = async () => {
    const edits = it.fields.map((f, i) => ({ field: f.path, text: areas[i].value }));
    done();
    await decide("edit", { field: edits[0].field, text: edits[0].text, edits });
  };
  save.onclick = commit; cancel.onclick = done;
  for (const ta of areas) ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); commit(); }
    else if (e.key === "Escape") { e.preventDefault(); done(); }
    e.stopPropagation();
  });
}
async function move(step) {
  const n = state.view ? state.view.items.length : 0;
  if (state.sel + step >= 0 && state.sel + step < n) { state.sel += step; render(); return; }
  await group(step, step > 0 ? 0 : -1);
}
async function group(step, sel) {
  const p = state.pos + step;
  if (p < 0 || p >= state.total) { notice(step > 0 ? "last original" : "first original"); return; }
  state.pos = p; await show(sel);
}
function help(open) { $("#help").hidden = !(open ?? $("#help").hidden); }
document.addEventListener("keydown", (e) => {
  if (state.editing || e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = (e.target.tagName || "").toLowerCase();
  if (tag === "input" || tag === "select" || tag === "textarea") {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  const run = { j: () => move(1), k: () => move(-1), n: () => group(1, 0), p: () => group(-1, 0),
    a: () => decide(current() && current().status === "rejected" ? "promote" : "accept"),
    P: () => decide("promote"), r: () => decide("reject"), u: () => decide("undo"), e: () => edit(),
    "?": () => help(), "/": () => $("#f-q").focus(), Escape: () => help(false) }[e.key];
  if (run) { e.preventDefault(); exec(run); }
});
function exec(fn) { Promise.resolve(fn()).catch((err) => notice("error: " + err.message)); }
async function poll() {  // decisions by anyone, so another reviewer's work shows up here
  try {
    const got = await api("/api/decisions?since=" + state.seen);
    state.seen = got.next;
    if (state.view && got.decisions.some((d) => state.view.items.some((it) => it.id === d.id) && d.reviewer !== me)) {
      const sel = state.sel; await show(sel);
    }
  } catch (err) { /* the server may be gone; keep the page */ }
  setTimeout(poll, 1500);
}
async function start() {
  const m = await api("/api/meta"); state.meta = m; state.seen = m.decisions;
  $("#file").textContent = m.file;
  for (const x of m.methods) $("#f-method").append(el("option", { value: x, text: x }));
  for (const x of m.codes) $("#f-code").append(el("option", { value: x, text: x }));
  for (const id of ["#f-method", "#f-status", "#f-code"]) $(id).addEventListener("change", () => exec(() => loadList(null)));
  $("#f-q").addEventListener("keydown", (e) => { if (e.key === "Enter") { exec(() => loadList(null)); e.target.blur(); } });
  $("#prev").onclick = () => exec(() => group(-1, 0)); $("#next").onclick = () => exec(() => group(1, 0));
  $("#help-btn").onclick = () => help();
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#help").addEventListener("click", (e) => { if (e.target.id === "help") help(false); });
  const saved = localStorage.getItem("qaug-pos:" + m.file);
  await loadList(m.decisions ? m.resume_group : (saved != null ? Number(saved) : 0));
  document.body.dataset.ready = "1";
  setTimeout(poll, 1500);
}
exec(start);
