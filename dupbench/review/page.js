"use strict";
// Builds the page from the JSON above with createElement/textContent only: file names are data, never markup.
const DATA = JSON.parse(document.getElementById("dupbench-data").textContent);
const GROUPS = DATA.groups;
const state = { kind: "all", minScore: 0, sort: "saved", page: 0, pageSize: 50 };
// group index -> {keeper: path, remove: Set of paths}; kept across pages and filters
const choices = new Map();

function $(id) { return document.getElementById(id); }

function el(tag, props, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) if (child) node.appendChild(child);
  return node;
}

function human(bytes) {
  if (bytes === null || bytes === undefined) return "size unknown";
  if (bytes < 1000) return bytes + " B";
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes, unit = "";
  for (unit of units) { value /= 1000; if (value < 1000) break; }
  return value.toFixed(1) + " " + unit;
}

function choiceOf(group) {
  if (!choices.has(group.index)) choices.set(group.index, { keeper: group.keeper, remove: new Set() });
  return choices.get(group.index);
}

function filtered() {
  const list = GROUPS.filter(g => (state.kind === "all" || g.kind === state.kind) && g.score >= state.minScore);
  const by = {
    saved: (a, b) => b.saved - a.saved || a.index - b.index,
    score: (a, b) => a.score - b.score || a.index - b.index,
    path: (a, b) => (a.keeper < b.keeper ? -1 : a.keeper > b.keeper ? 1 : a.index - b.index),
  }[state.sort];
  return list.sort(by);
}

function howMatched(file) {
  if (file.role === "keeper" && file.match === null) return "the copy the detector keeps";
  if (file.match === "bytes") return "same bytes as " + (file.same_as === null ? "the keeper" : file.same_as);
  if (file.match === "pixels") return "same pixels as " + (file.same_as === null ? "the keeper" : file.same_as) + " (other encoding)";
  return "near: SSIM " + Number(file.ssim).toFixed(3) + " to the detector's keeper";
}

function fileCard(group, file) {
  const choice = choiceOf(group);
  const isKeeper = choice.keeper === file.path;
  const removing = choice.remove.has(file.path);
  const card = el("figure", { class: "file" + (isKeeper ? " keeper" : "") + (removing ? " remove" : "") });
  card.setAttribute("data-path", file.path);
  const thumb = el("div", { class: "thumb" });
  if (file.thumb) {
    const link = el("a", { href: file.uri, target: "_blank", rel: "noopener", title: "open the full image" });
    link.appendChild(el("img", { src: file.thumb, alt: file.name, loading: "lazy" }));
    thumb.appendChild(link);
  } else {
    thumb.appendChild(el("div", { class: "nopreview", text: file.problem || "no preview" }));
  }
  card.appendChild(thumb);
  const meta = [
    file.width ? file.width + "\u00d7" + file.height : "resolution unknown",
    human(file.size),
    file.format || "format unknown",
    file.mtime || "date unknown",
  ].join(" \u00b7 ");
  const keep = el("input", { type: "radio", name: "keeper-" + group.index, class: "keep" });
  keep.checked = isKeeper;
  keep.addEventListener("change", () => { choice.keeper = file.path; choice.remove.delete(file.path); render(); });
  const remove = el("input", { type: "checkbox", class: "remove" });
  remove.checked = removing;
  remove.disabled = isKeeper;
  remove.addEventListener("change", () => {
    if (remove.checked) choice.remove.add(file.path); else choice.remove.delete(file.path);
    card.classList.toggle("remove", remove.checked);
    updateSelection();
  });
  const caption = el("figcaption", {}, [
    el("div", { class: "name", text: file.name }),
    el("div", { class: "folder", text: file.folder }),
    el("div", { class: "meta", text: meta }),
    el("div", { class: "how", text: (isKeeper ? "KEEPER \u2014 " : "") + howMatched(file) }),
    file.problem && file.thumb ? el("div", { class: "problem", text: file.problem }) : null,
    el("label", { class: "choice" }, [keep, document.createTextNode(" keep this copy")]),
    el("label", { class: "choice" }, [remove, document.createTextNode(" remove")]),
  ]);
  card.appendChild(caption);
  return card;
}

function groupSection(group) {
  const section = el("section", { class: "group" });
  section.setAttribute("data-group", String(group.index));
  const heading = el("h2", {}, [
    el("span", { class: "kind " + group.kind, text: group.kind }),
    document.createTextNode("group " + group.index + ": " + group.files.length + " files, " +
      human(group.saved) + " to save, lowest score " + group.score.toFixed(3)),
  ]);
  section.appendChild(heading);
  section.appendChild(el("div", { class: "files" }, group.files.map(f => fileCard(group, f))));
  return section;
}

function ticked() {
  const files = [];
  for (const group of GROUPS) {
    const choice = choices.get(group.index);
    if (!choice) continue;
    for (const file of group.files) if (choice.remove.has(file.path) && file.path !== choice.keeper) files.push([group, file]);
  }
  return files;
}

function updateSelection() {
  const files = ticked();
  const bytes = files.reduce((sum, [, f]) => sum + (f.size || 0), 0);
  $("selection").textContent = files.length + " file(s) ticked to remove, " + human(bytes) + ".";
}

function render() {
  const list = filtered();
  const pages = Math.max(1, Math.ceil(list.length / state.pageSize));
  state.page = Math.min(state.page, pages - 1);
  const start = state.page * state.pageSize;
  const shown = list.slice(start, start + state.pageSize);
  const main = $("groups");
  main.replaceChildren(...shown.map(groupSection));
  const exact = GROUPS.filter(g => g.kind === "exact").length;
  $("summary").textContent = GROUPS.length + " groups (" + exact + " exact, " + (GROUPS.length - exact) + " near) from " +
    DATA.report.path + "; the filter shows " + list.length + ".";
  $("page-label").textContent = list.length ? "groups " + (start + 1) + "\u2013" + (start + shown.length) + " of " + list.length +
    " (page " + (state.page + 1) + " of " + pages + ")" : "no group matches the filter";
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
  updateSelection();
}

function buildPlan() {
  const groups = [];
  for (const group of GROUPS) {
    const choice = choices.get(group.index);
    if (!choice) continue;
    const remove = group.files.filter(f => choice.remove.has(f.path) && f.path !== choice.keeper);
    if (!remove.length) continue;
    const keeper = group.files.find(f => f.path === choice.keeper);
    groups.push({
      group: group.index,
      kind: group.kind,
      keeper: { path: keeper.path, digest: keeper.digest },
      remove: remove.map(f => ({ path: f.path, digest: f.digest })),
    });
  }
  return { format: "dupbench-plan", version: 1, action: $("action").value, report: DATA.report, roots: DATA.roots, groups: groups };
}

function exportPlan() {
  const plan = buildPlan();
  const text = JSON.stringify(plan, null, 2) + "\n";
  window.dupbenchPlan = plan;  // for scripts and tests; the download below is for people
  $("plan-json").textContent = text;
  const files = plan.groups.reduce((n, g) => n + g.remove.length, 0);
  const to = plan.action === "move" ? " --to DIR" : plan.action === "delete" ? " --yes" : "";
  $("plan-help").textContent = files + " file(s) in " + plan.groups.length + " group(s). Saved as dupbench-plan.json; check it with " +
    "`dupbench apply dupbench-plan.json --dry-run" + (plan.action === "move" ? " --to DIR" : "") + "`, then carry it out with " +
    "`dupbench apply dupbench-plan.json" + to + "` (undo with `dupbench undo MANIFEST`).";
  $("plan-section").hidden = false;
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = el("a", { href: url, download: "dupbench-plan.json" });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function tickFiltered() {
  for (const group of filtered()) {
    const choice = choiceOf(group);
    for (const file of group.files) if (file.path !== choice.keeper) choice.remove.add(file.path);
  }
  render();
}

$("kind").addEventListener("change", e => { state.kind = e.target.value; state.page = 0; render(); });
$("min-score").addEventListener("input", e => { state.minScore = Number(e.target.value) || 0; state.page = 0; render(); });
$("sort").addEventListener("change", e => { state.sort = e.target.value; state.page = 0; render(); });
$("page-size").addEventListener("change", e => { state.pageSize = Number(e.target.value); state.page = 0; render(); });
$("prev").addEventListener("click", () => { state.page -= 1; render(); window.scrollTo(0, 0); });
$("next").addEventListener("click", () => { state.page += 1; render(); window.scrollTo(0, 0); });
$("tick-filtered").addEventListener("click", tickFiltered);
$("clear").addEventListener("click", () => { choices.clear(); render(); });
$("export").addEventListener("click", exportPlan);
render();
