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

document.addEventListener("DOMContentLoaded", () => {
  if (byId("executions")) executionsPage();
  const root = byId("execution");
  if (root) executionPage(root);
  const form = byId("run-form");
  if (form) runForm(form);
  const section = byId("actions");
  if (section) actions(section);
});
