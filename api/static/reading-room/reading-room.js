// The reading room: one page over the archive's public API (/v1), nothing else.
// Its state is its address: /?quote=TEXT, /?claim=ID, /?document=ID[&span=ID],
// /?view=disputed, /?view=documents. Every link is a plain link; the page reads the
// address when it loads and renders that view. Text from the archive is only ever put in
// the page as text (textContent), never as HTML.
"use strict";

const API = "/v1";
const STANCES = ["supports", "contradicts", "qualifies"];
const STANCE_TITLES = {
  supports: "Supports",
  contradicts: "Contradicts",
  qualifies: "Qualifies",
};
const CONTEXT = 240; // characters of the document shown around a match
const MAX_PAGES = 20; // a list is followed for at most this many pages

const view = () => document.getElementById("view");
const statusLine = () => document.getElementById("status");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function link(params, ...children) {
  return el("a", { href: "/?" + new URLSearchParams(params).toString() }, ...children);
}

function say(text) {
  statusLine().textContent = text;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, params, as) {
  const url = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(name, value);
  }
  const response = await fetch(url, { headers: { Accept: as === "text" ? "text/plain" : "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) {
      /* not JSON: keep the status text */
    }
    throw new ApiError(response.status, detail);
  }
  return as === "text" ? response.text() : response.json();
}

async function all(path, params) {
  let items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const body = await api(path, { ...params, limit: 100, cursor });
    items = items.concat(body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

const cache = new Map();
function once(key, load) {
  if (!cache.has(key)) cache.set(key, load());
  return cache.get(key);
}
const getDocument = (id) => once("doc:" + id, () => api(`/documents/${encodeURIComponent(id)}`));
const getClaim = (id) => once("claim:" + id, () => api(`/claims/${encodeURIComponent(id)}`));
const getSpan = (id) => once("span:" + id, () => api(`/spans/${encodeURIComponent(id)}`));

function creators(doc) {
  const names = (doc.creators || []).map((c) => c.name).filter(Boolean);
  return names.length ? names.join(", ") : null;
}

function documentLine(doc) {
  const bits = [creators(doc), doc.publisher, doc.published].filter(Boolean);
  return el(
    "span",
    { class: "document" },
    link({ document: doc.id }, el("cite", {}, doc.title)),
    bits.length ? " — " + bits.join(", ") : ""
  );
}

function statusBadge(claim) {
  return el(
    "span",
    { class: "badges" },
    el("span", { class: `badge status-${claim.status}` }, claim.status),
    claim.disputed ? el("span", { class: "badge disputed" }, "disputed") : null
  );
}

function heading(text) {
  return el("h1", { tabindex: "-1" }, text);
}

function shareLink() {
  const here = window.location.href;
  return el("p", { class: "share" }, "Link to this view: ", el("a", { href: here }, here));
}

// --- quote lookup ------------------------------------------------------------------------

async function showLookup(text) {
  document.getElementById("quote").value = text;
  document.title = `“${text.slice(0, 60)}” · Reading room`;
  say("Looking the quotation up…");
  const answer = await api("/quotes", { text });
  const matches = answer.matches;
  const root = view();
  root.replaceChildren(heading("Where this quotation comes from"), shareLink());
  if (!matches.length) {
    say("No match.");
    root.append(
      el("p", {}, "The archive has no passage close enough to these words. Check the spelling, or paste a longer part of the quotation.")
    );
    return;
  }
  say(`${matches.length} ${matches.length === 1 ? "match" : "matches"}, best first.`);
  const list = el("ol", { class: "matches" });
  root.append(list);
  for (const match of matches) {
    list.append(await renderMatch(match));
  }
}

async function renderMatch(match) {
  const doc = await getDocument(match.document_id);
  const from = Math.max(0, match.start - CONTEXT);
  const to = Math.min(doc.length, match.end + CONTEXT);
  const passage = await api(
    `/documents/${encodeURIComponent(doc.id)}/text`,
    { start: from, end: to },
    "text"
  );
  const before = passage.slice(0, match.start - from);
  const words = passage.slice(match.start - from, match.end - from);
  const after = passage.slice(match.end - from);
  // The curated spans the match falls in, tightest first: the words' own speaker before
  // that of a longer passage around them (a speech quoting someone).
  const spans = await Promise.all(match.spans.map((s) => getSpan(s.id)));
  spans.sort((a, b) => a.end - a.start - (b.end - b.start));
  const speakers = [...new Set(spans.map((s) => s.speaker).filter(Boolean))];
  const claims = await Promise.all(match.claims.map((id) => getClaim(id)));
  const firstSpan = spans[0];
  return el(
    "li",
    { class: "match" },
    el(
      "p",
      { class: "meta" },
      documentLine(doc),
      " ",
      el("span", { class: `badge match-${match.match}` }, `${match.match} · ${match.score.toFixed(2)}`)
    ),
    speakers.length
      ? el(
          "p",
          { class: "speaker" },
          "Quoted: ",
          el("strong", {}, speakers[0]),
          speakers.length > 1 ? `, within the words of ${speakers.slice(1).join(", ")}` : ""
        )
      : el("p", { class: "speaker none" }, "No speaker recorded for these words."),
    el(
      "blockquote",
      { class: "context", cite: `${API}/documents/${doc.id}/text?start=${match.start}&end=${match.end}` },
      from > 0 ? "…" : "",
      before,
      el("mark", {}, words),
      after,
      to < doc.length ? "…" : ""
    ),
    el(
      "p",
      { class: "where" },
      link(
        firstSpan ? { document: doc.id, span: firstSpan.id } : { document: doc.id },
        "Read it in the document"
      ),
      ` (characters ${match.start}–${match.end})`
    ),
    claims.length
      ? el(
          "div",
          { class: "claims" },
          el("h2", {}, "Claims resting on these words"),
          el(
            "ul",
            {},
            claims.map((c) => el("li", {}, link({ claim: c.id }, c.statement), " ", statusBadge(c)))
          )
        )
      : null
  );
}

// --- a claim -------------------------------------------------------------------------------

async function showClaim(id) {
  say("Opening the claim…");
  const prov = await api(`/claims/${encodeURIComponent(id)}/provenance`);
  const claim = prov.claim;
  document.title = `${claim.statement} · Reading room`;
  const root = view();
  const byId = new Map(prov.evidence.map((e) => [e.id, e]));
  root.replaceChildren(
    el("p", { class: "kicker" }, "Claim"),
    heading(claim.statement),
    shareLink(),
    el("p", {}, statusBadge(claim), " ", `${prov.documents} ${prov.documents === 1 ? "document" : "documents"} speak to it.`),
    claim.note ? el("p", { class: "note" }, claim.note) : null
  );
  const columns = el("div", { class: "stances" });
  for (const stance of STANCES) {
    const pieces = prov.evidence.filter((e) => e.stance === stance);
    columns.append(
      el(
        "section",
        { class: `stance stance-${stance}`, "aria-labelledby": `stance-${stance}` },
        el("h2", { id: `stance-${stance}` }, `${STANCE_TITLES[stance]} (${pieces.length})`),
        pieces.length ? pieces.map(renderEvidence) : el("p", { class: "none" }, "None recorded.")
      )
    );
  }
  root.append(columns);
  if (prov.tensions.length) {
    root.append(
      el(
        "section",
        { class: "tensions", "aria-labelledby": "tensions" },
        el("h2", { id: "tensions" }, "Where the sources pull apart"),
        el(
          "ul",
          {},
          prov.tensions.map((t) => {
            const a = byId.get(t.supporting);
            const b = byId.get(t.opposing);
            return el(
              "li",
              {},
              el("a", { href: `#${t.supporting}` }, a.document.title),
              " supports; ",
              el("a", { href: `#${t.opposing}` }, b.document.title),
              ` ${t.stance}.`
            );
          })
        )
      )
    );
  }
  say(claim.disputed ? "The sources disagree on this claim." : "");
}

function renderEvidence(ev) {
  const span = ev.span;
  const orphaned = span.anchor_status === "orphaned";
  return el(
    "article",
    { class: "evidence" + (orphaned ? " orphaned" : ""), id: ev.id },
    el("blockquote", {}, span.exact),
    span.speaker ? el("p", { class: "speaker" }, "Quoted: ", el("strong", {}, span.speaker)) : null,
    el("p", { class: "meta" }, documentLine(ev.document)),
    el("p", { class: "where" }, link({ document: ev.document.id, span: span.id }, "See it in the text")),
    orphaned
      ? el("p", { class: "warning" }, "These words are no longer in the document's current text; they count for nothing.")
      : null,
    ev.note ? el("p", { class: "note" }, ev.note) : null,
    ev.citations.length
      ? el(
          "div",
          { class: "citations" },
          el("h3", {}, "Cited for these words"),
          el(
            "ol",
            {},
            ev.citations.map((c) =>
              el(
                "li",
                {},
                c.status === "ok" ? c.text : c.raw || "(an empty note)",
                c.status !== "ok" ? el("span", { class: "badge" }, `${c.status} note, as printed`) : null
              )
            )
          )
        )
      : null
  );
}

// --- lists -----------------------------------------------------------------------------------

async function showDisputed() {
  document.title = "Disputed claims · Reading room";
  say("Listing the claims the sources disagree on…");
  const claims = await all("/claims", { disputed: true });
  const root = view();
  root.replaceChildren(
    heading("Claims the sources disagree on"),
    el(
      "p",
      {},
      "A claim is disputed when a source contradicts it, or qualifies it: tells it otherwise, narrows it or hedges it. Open one to read both sides in the sources' own words."
    ),
    el(
      "ul",
      { class: "claim-list" },
      claims.map((c) =>
        el(
          "li",
          {},
          link({ claim: c.id }, c.statement),
          " ",
          statusBadge(c),
          el(
            "span",
            { class: "counts" },
            ` ${c.evidence_counts.supports} for, ${c.evidence_counts.contradicts} against, ${c.evidence_counts.qualifies} qualifying`
          )
        )
      )
    )
  );
  say(`${claims.length} disputed claims.`);
}

async function showDocuments() {
  document.title = "Documents · Reading room";
  const docs = await all("/documents", {});
  view().replaceChildren(
    heading("Documents"),
    el(
      "ul",
      { class: "document-list" },
      docs.map((d) =>
        el("li", {}, documentLine(d), el("span", { class: "counts" }, ` ${d.counts.spans} marked passages, ${d.counts.claims} claims`))
      )
    )
  );
  say(`${docs.length} documents.`);
}

// --- a document with its spans marked --------------------------------------------------------

async function showDocument(id, chosen) {
  say("Opening the document…");
  const path = `/documents/${encodeURIComponent(id)}`;
  const [doc, text, spans] = await Promise.all([
    getDocument(id),
    api(`${path}/text`, {}, "text"),
    all(`${path}/spans`, {}),
  ]);
  document.title = `${doc.title} · Reading room`;
  const anchored = spans.filter((s) => s.anchor_status !== "orphaned");
  const body = el("div", { class: "text" });
  // Cut the text where any span starts or ends; mark each piece that spans cover.
  const cuts = new Set([0, text.length]);
  for (const s of anchored) {
    cuts.add(s.start);
    cuts.add(s.end);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const opened = new Set();
  for (let i = 0; i + 1 < points.length; i += 1) {
    const [a, b] = [points[i], points[i + 1]];
    const piece = text.slice(a, b);
    const covering = anchored.filter((s) => s.start <= a && s.end >= b);
    if (!covering.length) {
      body.append(piece);
      continue;
    }
    const speakers = [...new Set(covering.map((s) => s.speaker).filter(Boolean))];
    const isChosen = covering.some((s) => s.id === chosen);
    const mark = el(
      "mark",
      {
        class: (isChosen ? "chosen " : "") + covering.map((s) => `kind-${s.kind}`).join(" "),
        title: speakers.length ? `Quoted: ${speakers.join(", ")}` : covering.map((s) => s.kind).join(", "),
      },
      piece
    );
    for (const s of covering) {
      if (s.start === a && !opened.has(s.id)) {
        opened.add(s.id);
        mark.id = mark.id || `span-${s.id}`;
      }
    }
    body.append(mark);
  }
  const orphaned = spans.length - anchored.length;
  view().replaceChildren(
    el("p", { class: "kicker" }, "Document"),
    heading(doc.title),
    el("p", { class: "meta" }, documentLine(doc), ` · revision ${doc.revision} · ${anchored.length} marked passages`),
    orphaned ? el("p", { class: "warning" }, `${orphaned} passages are no longer in this revision of the text.`) : null,
    body
  );
  say("");
  const target = chosen && document.getElementById(`span-${chosen}`);
  if (target) target.scrollIntoView({ block: "center" });
}

// --- the address decides -------------------------------------------------------------------

async function render() {
  const params = new URLSearchParams(window.location.search);
  try {
    if (params.get("quote")) await showLookup(params.get("quote"));
    else if (params.get("claim")) await showClaim(params.get("claim"));
    else if (params.get("document")) await showDocument(params.get("document"), params.get("span"));
    else if (params.get("view") === "disputed") await showDisputed();
    else if (params.get("view") === "documents") await showDocuments();
    else {
      view().replaceChildren(
        el(
          "p",
          { class: "intro" },
          "Paste a quotation above to see where it comes from, who is quoted and which claims rest on it; or browse the ",
          link({ view: "disputed" }, "claims the sources disagree on"),
          " and the ",
          link({ view: "documents" }, "documents"),
          "."
        )
      );
      return;
    }
    const h1 = view().querySelector("h1");
    if (h1 && params.toString()) h1.focus({ preventScroll: !!params.get("span") });
  } catch (error) {
    const found = error instanceof ApiError && error.status === 404;
    say("");
    view().replaceChildren(
      el("div", { class: "error", role: "alert" }, found ? "Not found: " : "Something went wrong: ", error.message)
    );
  }
}

document.addEventListener("DOMContentLoaded", render);
