// The dev page: runs discover() against the URL typed in and shows the result and the trace.
// Everything is rendered with textContent: server-supplied strings are never HTML.
import { discover } from "mcp-authlink";

const $ = (id) => document.getElementById(id);

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function addTrace(entry) {
  const row = $("trace").insertRow();
  cell(row, String($("trace").rows.length));
  cell(row, entry.method);
  cell(row, entry.url, "url");
  cell(row, entry.status ?? "—");
  cell(row, String(entry.ms));
  cell(row, entry.outcome, entry.outcome);
}

async function run(endpoint) {
  $("go").disabled = true;
  $("trace").replaceChildren();
  $("warnings").replaceChildren();
  for (const id of ["warnings-section", "result-section"]) $(id).hidden = true;
  $("trace-section").hidden = false;
  const summary = $("summary");
  summary.hidden = false;
  summary.className = "summary";
  summary.textContent = `Discovering ${endpoint} …`;
  const live = [];
  try {
    const result = await discover(endpoint, { allowHttp: $("allowHttp").checked, onStep: (e) => live.push(e) });
    // The trace in the result is final (outcomes decided); show it instead of the live one.
    $("trace").replaceChildren();
    result.trace.forEach(addTrace);
    summary.replaceChildren();
    const mode = document.createElement("div");
    mode.append("Recommended auth mode: ");
    const m = document.createElement("span");
    m.className = "mode";
    m.id = "mode";
    m.textContent = result.recommended_auth_mode ?? (result.requires_auth ? "none usable" : "no auth needed");
    mode.append(m);
    const msg = document.createElement("div");
    msg.id = "message";
    msg.textContent = result.message;
    summary.append(mode, msg);
    for (const w of result.warnings) {
      const li = document.createElement("li");
      li.textContent = `${w.code}: ${w.message}`;
      $("warnings").append(li);
    }
    $("warnings-section").hidden = result.warnings.length === 0;
    $("result").textContent = JSON.stringify(result, null, 2);
    $("result-section").hidden = false;
  } catch (e) {
    summary.className = "summary error";
    summary.textContent = `${e.code ?? "error"}: ${e.message}`;
    live.forEach(addTrace);
  } finally {
    $("go").disabled = false;
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const endpoint = $("endpoint").value.trim();
  history.replaceState(null, "", `?endpoint=${encodeURIComponent(endpoint)}`);
  run(endpoint);
});

const demos = await fetch("/demos.json").then((r) => r.json()).catch(() => []);
for (const d of demos) {
  const a = document.createElement("a");
  a.href = `?endpoint=${encodeURIComponent(d.endpoint)}`;
  a.textContent = d.name;
  $("demos").append(a, " ");
}
if (demos.length) $("demos").prepend("Local demos: ");
const initial = new URLSearchParams(location.search).get("endpoint");
if (initial) {
  $("endpoint").value = initial;
  if (initial.startsWith("http:")) $("allowHttp").checked = !/^http:\/\/(127\.|localhost|\[::1\])/.test(initial);
  run(initial);
}
