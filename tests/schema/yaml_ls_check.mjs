// runner's JSON Schemas in the real yaml-language-server, driven over stdio as an editor does.
//
//   node yaml_ls_check.mjs SERVER FLOW_SCHEMA SUITE_SCHEMA VALID_LIST INVALID_LIST
//
// VALID_LIST and INVALID_LIST hold one file per line. Every valid file must get no error from
// the schema (a false error would be in every user's editor); every invalid file must get one,
// naming the line of the mistake ("# expect: LINE" in the file). A flow with a misspelt task
// type must be offered the right one by completion. Prints one summary line; exits 1 on any
// failure, listing them.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [server, flowSchema, suiteSchema, validList, invalidList] = process.argv.slice(2);
const lines = (f) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim() !== "");

const child = spawn(process.execPath, [server, "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
let buffer = Buffer.alloc(0);
let nextId = 1;
const pending = new Map();
const diagnostics = new Map();
const waiters = new Map();
const settings = {
  yaml: {
    validate: true,
    completion: true,
    hover: true,
    schemaStore: { enable: false },
    schemas: {
      [pathToFileURL(flowSchema).href]: ["flow-*.yaml"],
      [pathToFileURL(suiteSchema).href]: ["suite-*.yaml"],
    },
  },
};

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
  child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  child.stdin.write(body);
}
function request(method, params) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve) => pending.set(id, resolve));
}
function notify(method, params) {
  send({ method, params });
}

child.stdout.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, end).toString())[1]);
    if (buffer.length < end + 4 + length) return;
    const message = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString("utf8"));
    buffer = buffer.subarray(end + 4 + length);
    if (message.id !== undefined && message.method) {
      // The server asks for the client's settings.
      const result = message.method === "workspace/configuration"
        ? message.params.items.map((i) => (i.section ? settings[i.section] ?? null : settings))
        : null;
      send({ id: message.id, result });
    } else if (message.id !== undefined) {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    } else if (message.method === "textDocument/publishDiagnostics") {
      diagnostics.set(message.params.uri, message.params.diagnostics);
      waiters.get(message.params.uri)?.();
    }
  }
});

let version = 0;
async function check(kind, text) {
  const uri = `file:///virtual/${kind}-${++version}.yaml`;
  const published = new Promise((resolve) => waiters.set(uri, resolve));
  notify("textDocument/didOpen", { textDocument: { uri, languageId: "yaml", version: 1, text } });
  await published;
  waiters.delete(uri);
  const errors = (diagnostics.get(uri) || []).filter((d) => d.severity === 1);
  notify("textDocument/didClose", { textDocument: { uri } });
  return { uri, errors };
}

const kindOf = (text) => (/^testCases:/m.test(text) && !/^tasks:/m.test(text) ? "suite" : "flow");
const failures = [];
await request("initialize", {
  processId: process.pid,
  rootUri: null,
  capabilities: { workspace: { configuration: true }, textDocument: { completion: { completionItem: { snippetSupport: false } } } },
});
notify("initialized", {});
notify("workspace/didChangeConfiguration", { settings });

// Many documents are open at once, as in an editor with many tabs: the server validates
// each after a short pause, so one at a time would mostly wait.
async function checkAll(files, judge) {
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const text = readFileSync(file, "utf8");
      judge(file, text, (await check(kindOf(text), text)).errors);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}
const shown = (errors) => errors.map((e) => `line ${e.range.start.line + 1}: ${e.message.slice(0, 160)}`).join("; ");

let valid = 0;
await checkAll(lines(validList), (file, text, errors) => {
  if (errors.length > 0) failures.push(`${file}: ${shown(errors)}`);
  else valid++;
});
let flagged = 0;
await checkAll(lines(invalidList), (file, text, errors) => {
  const expect = Number(/# expect: (\d+)/.exec(text)?.[1]);
  if (errors.some((e) => e.range.start.line + 1 === expect)) flagged++;
  else failures.push(`${file}: no error at line ${expect} (${shown(errors) || "none"})`);
});

// Completion of a task type, as a person types its name.
const typed = "id: c\nnamespace: company.team\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.\n";
const uri = "file:///virtual/flow-complete.yaml";
const opened = new Promise((resolve) => waiters.set(uri, resolve));
notify("textDocument/didOpen", { textDocument: { uri, languageId: "yaml", version: 1, text: typed } });
await opened;
const completion = await request("textDocument/completion", { textDocument: { uri }, position: { line: 4, character: 34 } });
const items = (Array.isArray(completion) ? completion : completion?.items || []).map((i) => i.label);
const completes = items.includes("io.kestra.plugin.core.log.Log");
if (!completes) failures.push(`completion of a task type offered: ${items.slice(0, 10).join(", ") || "nothing"}`);

await request("shutdown", null);
notify("exit", null);
console.log(`schema: ${valid} valid files without a false error | ${flagged} invalid files flagged at their line | type completion ${completes ? "ok" : "missing"} | ${failures.length} failures`);
for (const f of failures.slice(0, 50)) console.log(`  ${f}`);
process.exit(failures.length === 0 ? 0 : 1);
