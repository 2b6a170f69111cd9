// The operator console: sign in with an API key, watch the queue, and start the page. The
// rest is in files of its own, loaded after this one (index.html): its words (strings.js,
// before it), one message (detail.js), a customer's whole conversation (conversation.js),
// search (search.js), the keys (keyboard.js), live updates and desktop alerts (live.js),
// saved replies (replies.js), closing without an answer (closing.js), internal notes
// (notes.js), a customer's other waiting lines (together.js), WhatsApp's 24-hour window
// (whatsapp.js), blocking a customer (blocking.js) and undoing a sending (sending.js).
// They share this file's state and helpers; plain scripts, no build step.
// Every call goes to the REST API with `Authorization: Bearer <key>`; the key lives in
// sessionStorage (this tab only). Live updates come from GET /api/v1/operator/events,
// read with fetch() so it can carry the same header (EventSource cannot).
"use strict";

const { API, STORE_KEY, el } = atende; // common.js
const STORE_NAME = "atende.console.operator";
// The sector filter, the open message and what was typed for it, so that reloading the tab
// keeps the operator's place and their unsent answer.
const STORE_PLACE = "atende.console.place";
// Whether to alert on the desktop: a choice of this browser's, kept across sign-ins.
const STORE_NOTIFY = "atende.console.notify";
const CONVERSATION_PAGE = 20;

const i18n = atende.translator(STRINGS);
const t = i18n.t;

const place = (() => {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_PLACE) || "{}") || {};
  } catch {
    return {}; // written by another version of the page: start at the top
  }
})();
const state = {
  key: sessionStorage.getItem(STORE_KEY),
  operator: sessionStorage.getItem(STORE_NAME) || "",
  me: sessionStorage.getItem(STORE_NAME) || null, // the name the gateway records for us
  admin: false,      // the key is an admin's (GET /operator/me): it may act on others' messages
  identified: false, // GET /operator/me answered for this key
  sector: typeof place.sector === "string" ? place.sector : "",
  // Whose messages the queue shows: "" all, "free" nobody's, "mine" the ones we hold.
  holder: ["free", "mine"].includes(place.holder) ? place.holder : "",
  sectors: [],
  items: [],
  total: 0,          // how many wait in all (the queue shows the oldest 100)
  late: 0,           // how many of them waited past the response target when read
  target: 0,         // the response target, in seconds (ATENDE_RESPONSE_TARGET_MINUTES)
  loadedAt: 0,       // when the queue was read (its waiting times count from then)
  selected: Number.isInteger(place.selected) ? place.selected : null, // shown in the detail panel
  view: "message",   // what the detail panel shows: message, conversation or search
  detail: null,      // {message, candidates, answers, history}
  conversation: null, // {client, items (oldest first), page, pages, total}
  search: null,      // {query, items}
  stream: null,      // AbortController of the live feed
  fresh: new Set(),  // ids to highlight as just arrived
  notified: new Set(), // ids already announced by a desktop alert
  file: null,        // {id, url: Promise of a blob: URL}: the open message's file
  notify: localStorage.getItem(STORE_NOTIFY) === "on", // this browser's choice, not a secret
  refreshTimer: null,
  queueReading: 0,   // counts the queue's reads: only the latest one's answer is shown
  queueRead: null,   // the latest read (a Promise), which answers for the ones it overtook
  // {id, text}: what the operator typed, kept across live re-renders and reloads
  draft: place.draft && Number.isInteger(place.draft.id) && typeof place.draft.text === "string"
    ? place.draft : null,
  status: null,      // {id, text, error}: the last action's outcome, kept likewise
};

const $ = (id) => document.getElementById(id);
// Replaces a node's children, leaving out the parts a view does not show (null, false).
const fill = (node, ...children) => node.replaceChildren(
  ...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
const api = (method, path, body, options) => atende.api(state.key, method, path, body, t("offline"), options);
// A status line says an outcome: read out at once when it is an error, politely otherwise.
function sayIn(node, text, error = false, size = "") {
  node.textContent = text || "";
  node.className = `status-line${size}${error ? " error" : ""}`;
  node.setAttribute("role", error ? "alert" : "status");
}

// Said by a screen reader, politely: what arrived in the queue, what opened in the detail.
const announce = (text) => { $("announce").textContent = text; };
// A queue item by its message's id: the queue is redrawn often, so no node is kept.
const queueItem = (id) => document.querySelector(`#queue-list li[data-id="${id}"]`);
// A list item's keys: Enter or Space opens it, as on a button (Space would scroll the page).
const opensOnKey = (open) => (event) => {
  if (event.key !== "Enter" && event.key !== " ") return;
  event.preventDefault();
  open();
};

const percent = (x) => new Intl.NumberFormat(i18n.lang, { style: "percent" }).format(x);
const when = (iso) => new Date(iso).toLocaleString(i18n.lang, {
  day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit",
});
const clock = (iso) => new Date(iso).toLocaleTimeString(i18n.lang, { hour: "2-digit", minute: "2-digit" });
const channelName = (channel) => t(`channel.${channel}`);
const stateName = (validated) => t(`state.${validated}`);

function age(seconds) {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d`;
}

// --- Sign-in --------------------------------------------------------------------------

function signInMessage(exc) {
  if (exc.status === 401) return t("signin.bad_key");
  if (exc.status === 403) return t("signin.wrong_role");
  if (exc.status === 429) return t("signin.too_many");
  return t("signin.failed", { message: exc.message });
}

async function signIn(event) {
  event.preventDefault();
  const error = $("signin-error");
  error.hidden = true;
  state.key = $("signin-key").value.trim();
  state.operator = $("signin-name").value.trim();
  state.me = state.operator || null;
  $("signin-submit").disabled = true;
  try {
    adopt(await api("GET", "/operator/me")); // proves the key and its role
  } catch (exc) {
    state.key = null;
    error.textContent = signInMessage(exc);
    error.hidden = false;
    return;
  } finally {
    $("signin-submit").disabled = false;
  }
  sessionStorage.setItem(STORE_KEY, state.key);
  sessionStorage.setItem(STORE_NAME, state.operator);
  $("signin-key").value = "";
  await showApp();
}

function signOut(message) {
  sending.flush(); // what the operator sent goes, with the key it was sent with
  if (state.stream) state.stream.abort();
  state.stream = null;
  sessionStorage.removeItem(STORE_KEY);
  sessionStorage.removeItem(STORE_NAME);
  sessionStorage.removeItem(STORE_PLACE);
  Object.assign(state, {
    key: null, sector: "", holder: "", selected: null, detail: null, conversation: null, search: null,
    admin: false, identified: false,
  });
  $("holder-filter").value = "";
  showCount(null);
  $("detail").replaceChildren(el("p", { class: "muted" }, t("detail.choose")));
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  const error = $("signin-error");
  error.textContent = message || "";
  error.hidden = !message;
}

// An error of any call: a key that stopped working signs out; the rest is said in the page.
function failed(exc, id) {
  if (exc.status === 401) {
    signOut(t("signin.expired"));
    return null;
  }
  if (exc.status === 404) return t("error.not_found", { id });
  if (exc.status === 409) return t("error.conflict", { message: exc.message });
  if (exc.status === 400 || exc.status === 422) return t("error.invalid", { message: exc.message });
  return t("error.generic", { message: exc.message });
}

function pageError(text) {
  const banner = $("page-error");
  banner.textContent = text || "";
  banner.hidden = !text;
}

// --- The queue ------------------------------------------------------------------------

// Who the key is: the name the gateway records when the page sends none, and its role.
function adopt(identity) {
  state.me = state.operator || identity.name;
  state.admin = identity.role === "admin";
  state.identified = true;
}

async function showApp() {
  if (!state.identified) { // a reload: the key was kept, its role was not
    try {
      adopt(await api("GET", "/operator/me"));
    } catch (exc) {
      const text = failed(exc);
      if (text === null) return; // signed out: the key is no longer valid
      state.identified = false; // offline for now: act as an operator, the API decides
    }
  }
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("operator-label").textContent = state.operator
    ? t(state.admin ? "operator.admin" : "operator", { name: state.operator }) : "";
  showNotifyToggle();
  await loadSectors();
  await refreshQueue();
  listen();
  if (state.selected !== null) await select(state.selected); // where this tab was before a reload
}

function keepPlace() {
  const { sector, holder, selected, draft } = state;
  sessionStorage.setItem(STORE_PLACE, JSON.stringify({ sector, holder, selected, draft }));
}

// The queue's size in the tab's title too, and how many wait past the response target,
// so a console left in a background tab still tells the operator that customers wait.
function showCount(total, late = 0) {
  const title = `atende ${t("title.short")}`;
  const overdue = late === 1 ? t("title.late_one") : t("title.late", { count: late });
  document.title = total ? `(${late ? `${total} · ${overdue}` : total}) ${title}` : title;
}

async function loadSectors() {
  const select = $("sector-filter");
  select.replaceChildren(el("option", { value: "" }, t("filter.all")));
  try {
    const sectors = await api("GET", "/sectors");
    state.sectors = sectors.items.map((sector) => sector.name);
    for (const name of state.sectors) select.append(el("option", { value: name }, name));
    if (!state.sectors.includes(state.sector)) state.sector = ""; // renamed or removed since
  } catch (exc) {
    const text = failed(exc);
    if (text) pageError(text);
  }
  select.value = state.sector;
}

// A live event reads the queue 150 ms later, and the events meanwhile share that read
// (it starts after them). Not put off by each new event: while messages keep arriving,
// the queue is still read about every 150 ms, never only in a lull.
function scheduleRefresh() {
  if (state.refreshTimer !== null) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refreshQueue();
  }, 150);
}

// Reads overlap (a live event's, then a filter changed): an earlier one answering last
// would show the queue of a sector no longer chosen, so only the latest is shown. An
// overtaken read resolves once the latest is shown: whoever awaits a read started after
// their change (an answer sent) then sees a queue read after it, never one from before.
function refreshQueue() {
  const reading = ++state.queueReading;
  state.queueRead = readQueue(reading);
  return state.queueRead;
}

async function readQueue(reading) {
  const query = new URLSearchParams({ per_page: "100" });
  if (state.sector) query.set("sector", state.sector);
  if (state.holder === "free") query.set("free", "true");
  // Ours: the name the gateway records for us (GET /operator/me, or the one signed in with).
  if (state.holder === "mine" && state.me) query.set("held_by", state.me);
  try {
    const page = await api("GET", `/operator/queue?${query}`);
    if (reading !== state.queueReading) return state.queueRead;
    state.items = page.items;
    state.total = page.total;
    state.late = page.late;
    state.target = page.response_target_seconds;
    state.loadedAt = Date.now();
    pageError(null);
  } catch (exc) {
    if (reading !== state.queueReading) return state.queueRead;
    const text = failed(exc);
    if (text) pageError(text);
    return;
  }
  renderQueue();
}

function badgeOf(message) {
  if (message.pipeline_ms === null && message.validated_by === "pending") {
    return el("span", { class: "badge" }, t("state.triage"));
  }
  return el("span", { class: `badge ${message.validated_by}` }, stateName(message.validated_by));
}

// The queue as the operator sees it: an answer waiting to go (sending.js) has left it.
const shownItems = () => state.items.filter((m) => !sending.isHeld(m.id));

const isMine = (message) => Boolean(message.assigned_to) && message.assigned_to === state.me;

function takenBadge(message) {
  if (!message.assigned_to) return null;
  return el("span", { class: `badge taken${isMine(message) ? " mine" : ""}` },
    isMine(message) ? t("queue.taken_by_me") : t("queue.taken_by", { name: message.assigned_to }));
}

const waitedSeconds = (message) => (message.waiting_seconds ?? 0) + (Date.now() - state.loadedAt) / 1000;
// Past the response target now, not only when the queue was read: the list is redrawn
// every 30 s between reads. A message its sector auto-sent an answer to waits for review,
// not for an answer.
const isLate = (message) => state.target > 0 && !message.answered_at
  && waitedSeconds(message) > state.target;

function waited(message) {
  return el("span", { class: `waited${isLate(message) ? " late" : ""}` },
    t("waited", { age: age(waitedSeconds(message)) }));
}

// How many wait past the target. The server counts the whole queue; those shown may have
// passed it since. Either the late ones are all shown (oldest first), and the shown
// count is the newer, or every one shown is late, and the server's is the larger.
function showLate(items, total) {
  const late = Math.max(state.late, items.filter(isLate).length);
  const target = age(state.target);
  const badge = $("queue-late");
  badge.hidden = late === 0;
  badge.textContent = t("queue.late", { count: late, target });
  badge.title = t("queue.late_title", { target });
  showCount(total, late);
}

function renderQueue() {
  const list = $("queue-list");
  // Redrawn on every arrival and every 30 s: the item the keyboard is on keeps its focus.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  const items = shownItems();
  const total = state.total - (state.items.length - items.length);
  list.replaceChildren(...items.map((message) => el(
    "li",
    {
      class: ["queue-item", message.id === state.selected && "selected",
        state.fresh.has(message.id) && "fresh", message.assigned_to && "taken",
        isLate(message) && "late"]
        .filter(Boolean).join(" "),
      "data-id": message.id,
      "aria-current": message.id === state.selected && "true",
      tabindex: "0",
      onclick: () => select(message.id),
      onkeydown: opensOnKey(() => select(message.id)),
    },
    el("div", { class: "meta" },
      el("strong", {}, `#${message.id}`),
      message.customer_name && el("span", { class: "customer-name" }, message.customer_name),
      el("span", {}, `${channelName(message.channel)} · ${message.sector || t("no_sector")}`),
      badgeOf(message), takenBadge(message), together.badge(message), // together.js: "+2 deste cliente"
      isLate(message) && el("span", { class: "badge late" }, t("queue.late_badge")),
      whatsappWindow.badge(message), waited(message)), // whatsapp.js: the 24-hour window
    el("p", { class: "text" }, message.message),
  )));
  if (focused) queueItem(focused)?.focus({ preventScroll: true });
  // Said by a screen reader, which the highlight of a new item is not.
  const arrived = items.filter((m) => state.fresh.has(m.id)).length;
  if (arrived) {
    const said = arrived === 1 ? "queue.arrived_one" : "queue.arrived";
    announce(t(said, { count: arrived, total }));
  }
  state.fresh.clear();
  showLate(items, total);
  $("queue-count").textContent = String(total);
  $("queue-note").textContent = "";
  $("queue-empty").hidden = items.length > 0;
  $("queue-empty").textContent = t(state.holder ? `queue.empty_${state.holder}` : "queue.empty");
  const more = $("queue-more");
  more.hidden = total <= items.length;
  more.textContent = more.hidden ? "" : t("queue.more", { shown: items.length, total });
}

// --- Start ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  await i18n.load();
  showCount(null);
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  $("search-form").addEventListener("submit", search);
  $("help-button").addEventListener("click", () => toggleHelp(true));
  $("next-free").addEventListener("click", nextFree);
  $("notify-toggle").addEventListener("click", toggleNotify);
  $("help-close").addEventListener("click", () => toggleHelp(false));
  $("help").addEventListener("click", (event) => { if (event.target.id === "help") toggleHelp(false); });
  document.addEventListener("keydown", onKey);
  sending.setUp(); // the wait before an answer goes, and sending what waits as the page goes
  $("sector-filter").addEventListener("change", (event) => {
    state.sector = event.target.value;
    keepPlace();
    refreshQueue();
  });
  $("holder-filter").value = state.holder;
  $("holder-filter").addEventListener("change", (event) => {
    state.holder = event.target.value;
    keepPlace();
    refreshQueue();
  });
  // Waiting times move on by themselves.
  setInterval(() => { if (!$("app-view").hidden && shownItems().length) renderQueue(); }, 30_000);
  if (state.key) showApp();
  else $("signin-view").hidden = false;
});
