// runner ui: the little the pages need beyond HTML. No framework, nothing fetched from
// elsewhere; every request carries the header the server requires of writes.
"use strict";

const HEADERS = { "x-runner-ui": "1" };

function byId(id) {
  return document.getElementById(id);
}

// Executions: a changed filter applies at once.
function executionsPage() {
  document.querySelectorAll(".filters select").forEach((s) =>
    s.addEventListener("change", () => s.form.submit())
  );
}

// An execution: task filter from the topology, log filters, live updates while it runs.
function executionPage(root) {
  let taskFilter = null;
  let logCount = Number(root.dataset.logCount || 0);

  function applyTaskFilter() {
    const rows = document.querySelectorAll("#taskruns tr.taskrun");
    let shown = 0;
    rows.forEach((r) => {
      const show = taskFilter === null || r.dataset.task === taskFilter;
      r.hidden = !show;
      if (show) shown += 1;
    });
    const label = byId("runs-shown");
    const all = byId("runs-all");
    if (label) {
      label.textContent = taskFilter === null
        ? "Every task"
        : "Task " + taskFilter + ": " + shown + " run" + (shown === 1 ? "" : "s");
    }
    if (all) all.hidden = taskFilter === null;
  }

  document.addEventListener("click", (e) => {
    const head = e.target.closest(".node-head");
    if (head) {
      e.preventDefault();
      taskFilter = head.dataset.task;
      applyTaskFilter();
      byId("runs").scrollIntoView();
    }
    const row = e.target.closest(".gantt-row");
    if (row) {
      taskFilter = null;
      applyTaskFilter();
      document.querySelectorAll("tr.taskrun.picked").forEach((r) => r.classList.remove("picked"));
      const target = document.querySelector(row.getAttribute("href"));
      if (target) target.classList.add("picked");
    }
  });
  const all = byId("runs-all");
  if (all) all.addEventListener("click", () => { taskFilter = null; applyTaskFilter(); });

  const level = byId("log-level");
  const search = byId("log-search");
  const download = byId("log-download");
  const downloadBase = download ? download.getAttribute("href") : "";
  function applyLogFilter() {
    const min = level ? level.selectedIndex : 0;
    const needle = search ? search.value.toLowerCase() : "";
    const rows = document.querySelectorAll("#log-rows tr.log");
    let shown = 0;
    rows.forEach((r) => {
      const show = Number(r.dataset.rank) >= min && (needle === "" || r.textContent.toLowerCase().includes(needle));
      r.hidden = !show;
      if (show) shown += 1;
    });
    const label = byId("log-shown");
    if (label) label.textContent = shown + " of " + rows.length + " lines";
    if (download) {
      const params = new URLSearchParams();
      if (min > 0) params.set("level", level.value);
      if (needle) params.set("q", search.value);
      const q = params.toString();
      download.setAttribute("href", downloadBase + (q ? "?" + q : ""));
    }
  }
  if (level) level.addEventListener("change", applyLogFilter);
  if (search) search.addEventListener("input", applyLogFilter);
  applyLogFilter();

  function replace(id, html) {
    const el = byId(id);
    if (el && typeof html === "string") el.innerHTML = html;
  }

  async function poll() {
    let data;
    try {
      const r = await fetch("/executions/" + encodeURIComponent(root.dataset.id) + "/live?logs=" + logCount, { headers: HEADERS, cache: "no-store" });
      data = await r.json();
    } catch (_) {
      setTimeout(poll, 2000);
      return;
    }
    if (data.record && root.dataset.reloadOnRecord === "true") {
      // The run wrote its first record: draw the whole page once.
      location.reload();
      return;
    }
    const shown = byId("actions");
    if (data.record && shown && data.state && shown.dataset.state !== data.state) {
      // Another state offers other actions (a run ended, was killed, paused again).
      shown.outerHTML = data.actions;
      actions(byId("actions"));
    }
    if (data.record) {
      replace("summary-wrap", data.summary);
      replace("topology-wrap", data.topology);
      replace("gantt-wrap", data.gantt);
      replace("runs-wrap", data.runs);
      applyTaskFilter();
    } else if (data.launch) {
      const status = byId("launch-status");
      if (status) status.outerHTML = data.launch;
    }
    if (Array.isArray(data.logs) && data.logs.length > 0) {
      byId("log-rows").insertAdjacentHTML("beforeend", data.logs.join(""));
      logCount = data.logCount;
      applyLogFilter();
    }
    root.dataset.ended = String(Boolean(data.ended));
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    if (!data.ended) setTimeout(poll, 500);
  }
  if (root.dataset.ended !== "true") setTimeout(poll, 300);
}

// A form's input widgets as the server takes them: files are uploaded first.
async function collectInputs(form) {
  const inputs = {};
  const files = {};
  for (const el of form.querySelectorAll("[data-kind]")) {
    const name = el.name;
    const kind = el.dataset.kind;
    if (kind === "FILE") {
      if (el.files.length === 0) continue;
      const f = el.files[0];
      const r = await fetch("/uploads?name=" + encodeURIComponent(f.name), { method: "PUT", headers: HEADERS, body: f });
      const answer = await r.json();
      if (!r.ok) throw new Error(answer.error || "the upload failed");
      files[name] = answer.upload;
    } else if (kind === "BOOLEAN") {
      inputs[name] = el.checked;
    } else if (kind === "MULTISELECT") {
      const chosen = Array.from(el.selectedOptions).map((o) => o.value);
      if (chosen.length > 0) inputs[name] = chosen;
    } else if (el.value !== "") {
      let v = el.value;
      if (kind === "DATETIME") {
        if (v.length === 16) v += ":00";
        v += "Z";
      }
      inputs[name] = v;
    }
  }
  return { inputs, files };
}

async function postJson(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: Object.assign({ "content-type": "application/json" }, HEADERS),
    body: JSON.stringify(body),
  });
  const answer = await r.json();
  if (!r.ok) throw new Error(answer.error || "it did not start");
  return answer;
}

// A flow's Run form: files are uploaded first, then the inputs are posted.
function runForm(form) {
  const status = byId("run-status");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = byId("run-button");
    button.disabled = true;
    status.textContent = "Starting…";
    try {
      const body = await collectInputs(form);
      const ns = encodeURIComponent(form.dataset.namespace);
      const id = encodeURIComponent(form.dataset.flow);
      const answer = await postJson("/flows/" + ns + "/" + id + "/run", body);
      location.href = answer.url;
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("problem-text");
      button.disabled = false;
    }
  });
}

// An execution's Resume form and Kill/Restart buttons: the page is drawn again once the
// execution went on.
function actions(section) {
  const status = byId("action-status");
  const url = (action) => "/executions/" + encodeURIComponent(section.dataset.execution) + "/" + action;
  async function act(button, action, body) {
    button.disabled = true;
    status.textContent = "…";
    status.classList.remove("problem-text");
    try {
      await postJson(url(action), body);
      location.reload();
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("problem-text");
      button.disabled = false;
    }
  }
  section.querySelectorAll("button[data-action]").forEach((b) =>
    b.addEventListener("click", () => act(b, b.dataset.action, {}))
  );
  const form = byId("resume-form");
  if (form) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const button = byId("resume-button");
      let body;
      try {
        body = await collectInputs(form);
      } catch (err) {
        status.textContent = err.message;
        status.classList.add("problem-text");
        return;
      }
      await act(button, "resume", body);
    });
  }
}

// A flow's editor: CodeMirror when the binary carries it (window.RunnerEditor), else the text
// area. What validation says comes back a moment after each change, with the topology.
function editorPage(root) {
  const area = byId("editor-source");
  const status = byId("editor-status");
  const base = "/flows/" + encodeURIComponent(root.dataset.namespace) + "/" + encodeURIComponent(root.dataset.flow);
  let view = null;
  let timer = null;
  let asked = 0;
  const text = () => (view ? view.state.doc.toString() : area.value);
  function show(problems) {
    const list = byId("editor-problems");
    list.innerHTML = "";
    for (const p of problems) {
      const li = document.createElement("li");
      li.className = p.error ? "problem-error" : "problem-warning";
      li.dataset.line = String(p.line);
      li.textContent = (p.line ? "line " + p.line + (p.col ? ":" + p.col : "") + ": " : "") + p.message;
      list.appendChild(li);
    }
    if (view) {
      const E = window.RunnerEditor;
      const doc = view.state.doc;
      const marks = problems.map((p) => {
        const line = doc.line(Math.min(Math.max(p.line || 1, 1), doc.lines));
        const from = Math.min(line.from + Math.max((p.col || 1) - 1, 0), line.to);
        return { from, to: Math.max(from, line.to), severity: p.error ? "error" : "warning", message: p.message };
      });
      view.dispatch(E.setDiagnostics(view.state, marks));
    }
    root.dataset.problems = String(problems.length);
    root.dataset.checks = String(Number(root.dataset.checks || 0) + 1);
  }
  async function check() {
    const mine = ++asked;
    try {
      const answer = await postJson(base + "/check", { text: text() });
      if (mine !== asked) return;
      show(answer.problems);
      byId("editor-topology").innerHTML = answer.topology;
    } catch (err) {
      status.textContent = err.message;
    }
  }
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  };
  if (window.RunnerEditor) {
    const E = window.RunnerEditor;
    view = new E.EditorView({
      doc: area.value,
      extensions: [E.basicSetup, E.yaml(), E.lintGutter(), E.EditorView.updateListener.of((u) => { if (u.docChanged) changed(); })],
    });
    area.hidden = true;
    area.parentNode.insertBefore(view.dom, area);
    // For the browser tests and anyone scripting the page.
    window.runnerEditorView = view;
    root.dataset.editor = "codemirror";
  } else {
    area.addEventListener("input", changed);
    root.dataset.editor = "textarea";
  }
  async function save(thenRun) {
    status.classList.remove("problem-text");
    status.textContent = "Saving…";
    try {
      const answer = await postJson(base + "/save", { text: text(), version: root.dataset.version });
      root.dataset.version = answer.version;
      status.textContent = "Saved";
      if (thenRun) location.href = answer.url + "#run-form";
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("problem-text");
    }
  }
  byId("save-button").addEventListener("click", () => save(false));
  byId("save-run-button").addEventListener("click", () => save(true));
  check();
}

document.addEventListener("DOMContentLoaded", () => {
  if (byId("executions")) executionsPage();
  const root = byId("execution");
  if (root) executionPage(root);
  const form = byId("run-form");
  if (form) runForm(form);
  const section = byId("actions");
  if (section) actions(section);
  const editor = byId("editor");
  if (editor) editorPage(editor);
});
