// The agent audit page: sign in with a studio token (kept in this tab's sessionStorage,
// sent only as the Authorization header, never in a URL), then the agent's last 100 audit
// events, newest first, with a readable before/after diff. Untrusted text (names, ids,
// states) is only ever set as textContent.
"use strict";

const TOKEN_KEY = "convoship.studioToken";
const LIMIT = 100;

function $(id) {
  return document.getElementById(id);
}

// A malformed % escape (`/app/agents/bad%E0%A4%A/audit`) makes decodeURIComponent throw
// (URIError): the raw text is the slug then, and the API answers for it.
function decodedOrRaw(text) {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    return text;
  }
}

function slugFromPath() {
  const match = window.location.pathname.match(/^\/app\/agents\/([^/]+)\/audit\/?$/);
  return match ? decodedOrRaw(match[1]) : null;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showSignIn(message, isError) {
  $("events").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  const note = $("sign-in-message");
  note.textContent = message;
  note.classList.toggle("error", Boolean(isError));
  $("token").value = "";
  $("token").focus();
}

// {"a": {"b": 1}} -> {"a.b": "1"}; arrays and scalars are leaves, shown as JSON.
function flatten(value, prefix, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) out[prefix] = "{}";
    for (const key of keys) flatten(value[key], prefix ? prefix + "." + key : key, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(value);
  } else if (value !== null && value !== undefined) {
    out["(value)"] = JSON.stringify(value);
  }
  return out;
}

function diffList(before, after) {
  const old = flatten(before, "", {});
  const now = flatten(after, "", {});
  const paths = Array.from(new Set(Object.keys(old).concat(Object.keys(now)))).sort();
  const list = element("ul", "diff");
  for (const path of paths) {
    if (old[path] === now[path]) continue;
    const item = element("li", "change");
    item.dataset.path = path;
    item.appendChild(element("span", "path", path + ": "));
    if (path in old) item.appendChild(element("span", "before", old[path]));
    if (path in old && path in now) item.appendChild(element("span", "arrow", "\u2192"));
    if (path in now) item.appendChild(element("span", "after", now[path]));
    list.appendChild(item);
  }
  if (!list.children.length) list.appendChild(element("li", "none", "\u2014"));
  return list;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().replace("T", " ").slice(0, 19);
}

function render(slug, items) {
  const rows = $("event-rows");
  rows.replaceChildren();
  for (const event of items) {
    const row = element("tr", "event");
    row.appendChild(element("td", "time", formatTime(event.occurred_at)));
    row.appendChild(element("td", "actor", event.actor_type + ": " + event.actor_id));
    row.appendChild(element("td", "action", event.action));
    const resource = event.resource_type + (event.resource_id ? " " + event.resource_id : "");
    row.appendChild(element("td", "resource", resource));
    const changes = element("td", "changes");
    changes.appendChild(diffList(event.before_state, event.after_state));
    row.appendChild(changes);
    rows.appendChild(row);
  }
  $("status").textContent = items.length
    ? "The " + items.length + " most recent events, newest first."
    : "No audit events for this agent yet.";
  $("sign-in").hidden = true;
  $("events").hidden = false;
  $("sign-out").hidden = false;
}

async function load(slug) {
  const token = window.sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn("Paste your studio token to read this agent's audit trail.", false);
    return;
  }
  let response;
  try {
    response = await fetch(
      "/v1/ai-agents/" + encodeURIComponent(slug) + "/audit-events?limit=" + LIMIT,
      { headers: { Authorization: "Bearer " + token }, cache: "no-store", credentials: "omit" },
    );
  } catch (error) {
    $("status").textContent = "The API could not be reached. Try again shortly.";
    return;
  }
  if (response.status === 401 || response.status === 403) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    showSignIn("Your token expired or was refused. Sign in again.", true);
    return;
  }
  if (!response.ok) {
    $("sign-in").hidden = true;
    $("events").hidden = false;
    $("sign-out").hidden = false;
    $("event-rows").replaceChildren();
    $("status").textContent =
      response.status === 404 ? "There is no agent named " + slug + "." : "The API answered " + response.status + ".";
    return;
  }
  const body = await response.json();
  render(slug, body.items || []);
}

function start() {
  const slug = slugFromPath();
  $("agent-slug").textContent = slug || "";
  if (!slug) {
    showSignIn("This page needs an agent: /app/agents/<slug>/audit.", true);
    return;
  }
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    window.sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    load(slug);
  });
  $("sign-out").addEventListener("click", () => {
    window.sessionStorage.removeItem(TOKEN_KEY);
    showSignIn("Signed out.", false);
  });
  load(slug);
}

document.addEventListener("DOMContentLoaded", start);
