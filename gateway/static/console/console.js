// The operator console: sign in with an API key, watch the queue live, answer customers.
// Every call goes to the REST API with `Authorization: Bearer <key>`; the key lives in
// sessionStorage (this tab only). Live updates come from GET /api/v1/operator/events,
// read with fetch() so it can carry the same header (EventSource cannot).
"use strict";

const API = "/api/v1";
const STORE_KEY = "atende.console.key";
const STORE_NAME = "atende.console.operator";

const CHANNELS = { telegram: "Telegram", whatsapp: "WhatsApp", rest: "API" };
const VALIDATION = { pending: "sem resposta", ai: "sugestão da IA", human: "aprovada" };
const DELIVERY = {
  pending: "na fila de envio", sending: "enviando", sent: "enviada",
  delivered: "entregue", read: "lida", failed: "falhou",
};

const state = {
  key: sessionStorage.getItem(STORE_KEY),
  operator: sessionStorage.getItem(STORE_NAME) || "",
  sector: "",
  items: [],
  selected: null,   // the id shown in the detail panel
  detail: null,     // {message, candidates, history}
  stream: null,     // AbortController of the live feed
  fresh: new Set(), // ids to highlight as just arrived
  refreshTimer: null,
  draft: null,      // {id, text}: what the operator typed, kept across live re-renders
  status: null,     // {id, text}: the last action's outcome, kept likewise
};

const $ = (id) => document.getElementById(id);

// Builds elements with textContent only: customer text is never parsed as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, "sem conexão com o atende");
  }
  let data = null;
  try { data = await response.json(); } catch (exc) { data = null; }
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || response.statusText;
    throw new ApiError(response.status, message);
  }
  return data;
}

const percent = (x) => `${Math.round(x * 100)}%`;
const when = (iso) => new Date(iso).toLocaleString("pt-BR", {
  day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit",
});

// --- Sign-in --------------------------------------------------------------------------

function signInMessage(exc) {
  if (exc.status === 401) return "Chave inválida ou revogada. Confira a chave e tente de novo.";
  if (exc.status === 403) {
    return "Esta chave não dá acesso ao console: use uma chave de operador ou de administrador.";
  }
  if (exc.status === 429) return "Muitas tentativas seguidas. Aguarde um pouco e tente de novo.";
  return `Não foi possível entrar: ${exc.message}.`;
}

async function signIn(event) {
  event.preventDefault();
  const error = $("signin-error");
  error.hidden = true;
  state.key = $("signin-key").value.trim();
  state.operator = $("signin-name").value.trim();
  $("signin-submit").disabled = true;
  try {
    await api("GET", "/operator/queue?per_page=1"); // proves the key and its role
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
  if (state.stream) state.stream.abort();
  state.stream = null;
  sessionStorage.removeItem(STORE_KEY);
  sessionStorage.removeItem(STORE_NAME);
  state.key = null;
  state.selected = null;
  state.detail = null;
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  const error = $("signin-error");
  error.textContent = message || "";
  error.hidden = !message;
}

// --- The queue ------------------------------------------------------------------------

async function showApp() {
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("operator-label").textContent = state.operator ? `Operador: ${state.operator}` : "";
  await loadSectors();
  await refreshQueue();
  listen();
}

async function loadSectors() {
  const select = $("sector-filter");
  select.replaceChildren(el("option", { value: "" }, "Todos os setores"));
  try {
    const sectors = await api("GET", "/sectors");
    for (const sector of sectors.items) {
      select.append(el("option", { value: sector.name }, sector.name));
    }
  } catch (exc) {
    if (exc.status === 401) signOut("Sua chave deixou de valer; entre de novo.");
  }
  select.value = state.sector;
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshQueue, 150);
}

async function refreshQueue() {
  const query = new URLSearchParams({ per_page: "100" });
  if (state.sector) query.set("sector", state.sector);
  try {
    const page = await api("GET", `/operator/queue?${query}`);
    state.items = page.items;
    $("queue-count").textContent = String(page.total);
  } catch (exc) {
    if (exc.status === 401) return signOut("Sua chave deixou de valer; entre de novo.");
    return;
  }
  renderQueue();
}

function badgeOf(message) {
  if (message.pipeline_ms === null && message.validated_by === "pending") {
    return el("span", { class: "badge" }, "em triagem…");
  }
  return el("span", { class: `badge ${message.validated_by}` }, VALIDATION[message.validated_by]);
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren(...state.items.map((message) => el(
    "li",
    {
      class: ["queue-item", message.id === state.selected && "selected",
        state.fresh.has(message.id) && "fresh"].filter(Boolean).join(" "),
      "data-id": message.id,
      tabindex: "0",
      onclick: () => select(message.id),
      onkeydown: (event) => { if (event.key === "Enter") select(message.id); },
    },
    el("div", { class: "meta" },
      el("strong", {}, `#${message.id}`),
      el("span", {}, `${CHANNELS[message.channel] || message.channel} · ${message.sector || "sem setor"}`),
      badgeOf(message)),
    el("p", { class: "text" }, message.message),
  )));
  state.fresh.clear();
  $("queue-empty").hidden = state.items.length > 0;
}

// --- One message ----------------------------------------------------------------------

async function select(id) {
  if (id !== state.selected) state.draft = state.status = null;
  state.selected = id;
  renderQueue();
  await loadDetail(id);
}

async function loadDetail(id) {
  try {
    const message = await api("GET", `/messages/${id}`);
    const [candidates, history] = await Promise.all([
      api("GET", `/operator/messages/${id}/candidates?limit=5`).catch(() => null),
      api("GET", `/messages/client/${message.client_id}?per_page=10`).catch(() => null),
    ]);
    if (state.selected !== id) return;
    state.detail = { message, candidates, history };
    renderDetail();
  } catch (exc) {
    if (exc.status === 401) signOut("Sua chave deixou de valer; entre de novo.");
  }
}

function deliveryText(delivery) {
  if (!delivery) return "nenhuma resposta enviada ainda";
  const text = DELIVERY[delivery.status] || delivery.status;
  const failed = delivery.parts.find((part) => part.status === "failed");
  return failed ? `${text} (${failed.error_code}: ${failed.error_reason})` : text;
}

function renderSuggestion(message, candidates) {
  const suggestion = message.suggestion;
  if (!suggestion) {
    const text = message.validated_by === "human"
      ? "Respondida por um operador, sem sugestão."
      : "Nenhuma sugestão para esta mensagem: escreva a resposta.";
    return [el("h3", {}, "Sugestão"), el("p", { class: "muted" }, text)];
  }
  const sources = new Set(suggestion.source_ids || []);
  const items = (candidates && candidates.items) || [];
  return [
    el("h3", {}, "Sugestão"),
    message.validated_by === "ai"
      ? el("div", { class: "suggestion", id: "suggestion-text" }, message.answer) : null,
    el("p", { class: "muted small" },
      `Similaridade ${suggestion.similarity.toFixed(3)} (limiar ${suggestion.threshold}) · `,
      `método ${suggestion.method}`,
      suggestion.auto_send ? " · enviada automaticamente" : "",
      message.validated_by === "human" ? " · revisada por um operador" : ""),
    el("h3", {}, "Respostas de origem"),
    items.length === 0 ? el("p", { class: "muted" }, "Sem respostas validadas parecidas.") :
      el("ul", { class: "sources" }, items.map((c) => el(
        "li", { class: sources.has(c.id) ? "source" : "" },
        el("div", {}, el("strong", {}, sources.has(c.id) ? "Origem " : ""),
          `#${c.id} · ${c.sector || "sem setor"} · similaridade ${c.similarity.toFixed(3)}`),
        el("div", { class: "q" }, `Pergunta: ${c.message}`),
        el("div", {}, `Resposta: ${c.answer}`),
      ))),
  ].filter(Boolean);
}

function renderHistory(message, history) {
  const others = ((history && history.items) || []).filter((m) => m.id !== message.id);
  return [
    el("h3", {}, "Histórico do cliente"),
    others.length === 0 ? el("p", { class: "muted" }, "Primeiro contato deste cliente.") :
      el("ul", { class: "history" }, others.map((m) => el("li", {},
        el("div", { class: "when" }, `#${m.id} · ${when(m.created_at)} · ${VALIDATION[m.validated_by]}`),
        el("div", {}, m.message),
        m.answer && m.validated_by === "human" ? el("div", { class: "reply" }, `↳ ${m.answer}`) : null,
      ))),
  ];
}

function renderDetail() {
  const { message, candidates, history } = state.detail;
  const open = message.validated_by !== "human";
  const suggested = message.validated_by === "ai";
  const draft = state.draft && state.draft.id === message.id ? state.draft.text : null;
  const answer = el("textarea", { id: "answer", "aria-label": "Resposta ao cliente",
    placeholder: "Escreva a resposta ao cliente…", disabled: !open,
    oninput: (event) => { state.draft = { id: message.id, text: event.target.value }; } },
  open && draft !== null ? draft : message.answer || "");
  const status = state.status && state.status.id === message.id ? state.status.text : "";
  const sector = message.sector
    ? message.sector + (message.sector_confidence !== null
      ? ` (confiança ${percent(message.sector_confidence)})` : " (informado)")
    : "ainda sem setor";
  $("detail").replaceChildren(
    el("h2", {}, `Mensagem #${message.id}`),
    el("dl", {},
      el("dt", {}, "Canal"), el("dd", {}, CHANNELS[message.channel] || message.channel),
      el("dt", {}, "Setor"), el("dd", {}, sector),
      el("dt", {}, "Recebida"), el("dd", {}, when(message.created_at)),
      el("dt", {}, "Estado"), el("dd", { id: "detail-state" }, VALIDATION[message.validated_by]
        + (message.operator_name && !open ? ` por ${message.operator_name}` : "")),
      el("dt", {}, "Entrega"), el("dd", { id: "delivery-state" }, deliveryText(message.delivery))),
    el("p", { class: "customer", id: "customer-message" }, message.message),
    ...renderSuggestion(message, candidates),
    el("h3", {}, "Resposta"),
    answer,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", disabled: !suggested,
        onclick: () => act("approve") }, "Aprovar"),
      el("button", { type: "button", disabled: !suggested,
        onclick: () => act("edit") }, "Editar e aprovar"),
      el("button", { type: "button", class: "danger", disabled: !suggested,
        onclick: () => act("reject") }, "Rejeitar"),
      el("button", { type: "button", disabled: !open || suggested,
        onclick: () => act("reply") }, "Responder")),
    el("p", { class: "status-line", id: "action-status", role: "status" }, status),
    ...renderHistory(message, history),
  );
}

async function act(action) {
  const id = state.selected;
  const text = $("answer").value.trim();
  const operator = state.operator || undefined;
  const say = (line) => {
    state.status = { id, text: line };
    if (state.selected === id) $("action-status").textContent = line;
  };
  if ((action === "edit" || action === "reply") && !text) {
    say("Escreva a resposta antes de enviar.");
    return;
  }
  for (const button of document.querySelectorAll(".actions button")) button.disabled = true;
  say("Enviando…");
  try {
    if (action === "approve") {
      await api("POST", `/operator/messages/${id}/approve`, { operator_name: operator });
    } else if (action === "edit") {
      await api("POST", `/operator/messages/${id}/approve`, { answer: text, operator_name: operator });
    } else if (action === "reject") {
      await api("POST", `/operator/messages/${id}/reject`);
    } else {
      await api("PUT", `/messages/${id}`,
        { answer: text, validated_by: "human", ...(operator ? { operator_name: operator } : {}) });
    }
  } catch (exc) {
    if (exc.status === 401) return signOut("Sua chave deixou de valer; entre de novo.");
    say(`Não foi possível: ${exc.message}`);
    await loadDetail(id);
    return;
  }
  state.draft = null;
  const done = { approve: "Resposta aprovada: segue para o cliente (veja Entrega).",
    edit: "Resposta editada e aprovada: segue para o cliente (veja Entrega).",
    reject: "Sugestão rejeitada: a mensagem voltou para a fila sem resposta.",
    reply: "Resposta registrada: segue para o cliente (veja Entrega)." };
  say(done[action]);
  await Promise.all([loadDetail(id), refreshQueue()]);
}

// --- Live updates ---------------------------------------------------------------------

function setLive(on) {
  const live = $("live-status");
  live.className = `live ${on ? "on" : "off"}`;
  live.textContent = on ? "ao vivo" : "reconectando…";
}

function onEvent(kind, event) {
  const message = event.message;
  if (kind === "message.stored") state.fresh.add(message.id);
  scheduleRefresh();
  if (message.id === state.selected) loadDetail(message.id);
}

function onFrame(frame) {
  let kind = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trim());
  }
  if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function listen() {
  if (state.stream) state.stream.abort();
  const control = new AbortController();
  state.stream = control;
  let first = true;
  while (!control.signal.aborted) {
    try {
      const response = await fetch(`${API}/operator/events`, {
        headers: { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" },
        signal: control.signal,
        cache: "no-store",
      });
      if (response.status === 401 || response.status === 403) {
        return signOut("Sua chave deixou de valer; entre de novo.");
      }
      if (!response.ok) throw new Error(String(response.status));
      setLive(true);
      if (!first) scheduleRefresh(); // whatever happened while the stream was down
      first = false;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          onFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (exc) {
      if (control.signal.aborted) return;
    }
    setLive(false);
    await sleep(2000);
  }
}

// --- Start ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  $("sector-filter").addEventListener("change", (event) => {
    state.sector = event.target.value;
    refreshQueue();
  });
  if (state.key) showApp();
  else $("signin-view").hidden = false;
});
