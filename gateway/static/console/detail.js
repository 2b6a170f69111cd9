// One message in the detail panel: its facts, the suggestion and the answers it came from,
// the possible answers, the answer box and the actions (approve, edit, reject, reply, take,
// give back, transfer), the customer's history, and a file the customer sent.
// Loaded after console.js, whose state and helpers it uses.
"use strict";

// --- One message ----------------------------------------------------------------------

async function select(id) {
  if (id !== state.selected) state.draft = state.status = null;
  state.selected = id;
  state.view = "message";
  keepPlace();
  renderQueue();
  await loadDetail(id);
  const message = state.detail?.message;
  if (state.selected === id && state.view === "message" && message?.id === id) {
    const text = message.message.length > 200 ? `${message.message.slice(0, 200)}…` : message.message;
    announce(t("detail.opened", { id, text }));
  }
}

async function loadDetail(id) {
  try {
    const message = await api("GET", `/messages/${id}`);
    const [candidates, answers, history] = await Promise.all([
      api("GET", `/operator/messages/${id}/candidates?limit=5`).catch(() => null),
      api("GET", `/operator/messages/${id}/answers?limit=3`).catch(() => null),
      api("GET", `/messages/client/${message.client_id}?per_page=10`).catch(() => null),
      notes.load(message), // notes.js: the customer's internal notes (the feed carries none)
      blocking.load(message), // blocking.js: whether the customer is blocked
      together.load(message), // together.js: every line of theirs still waiting
    ]);
    if (state.selected !== id) return;
    state.detail = { message, candidates, answers, history };
    if (state.view === "message") renderDetail();
  } catch (exc) {
    const text = failed(exc, id);
    if (text && state.selected === id) {
      state.detail = null;
      $("detail").replaceChildren(el("p", { class: "error", role: "alert", id: "detail-error" }, text));
    }
  }
}

// --- A file the customer sent -----------------------------------------------------------

// The platform keeps it; GET /messages/{id}/file fetches it with the channel's credentials.
// An <img> cannot send the key, so the file comes by fetch() and is shown from a blob: URL,
// kept while its message is open (the panel is redrawn on every live event).
const PICTURES = new Set(["photo", "image", "sticker"]);
const hasFile = (message) => Boolean(message.media && (message.media.file_id || message.media.id));

async function fetchFile(id) {
  let response;
  try {
    response = await fetch(`${API}/messages/${id}/file`, {
      headers: { Authorization: `Bearer ${state.key}` },
    });
  } catch {
    throw new Error(t("offline"));
  }
  if (!response.ok) {
    let text = response.statusText;
    try { text = (await response.json()).error.message; } catch { /* not JSON */ }
    throw new Error(text);
  }
  return response.blob();
}

function fileUrl(id) {
  if (state.file && state.file.id === id) return state.file.url;
  if (state.file) URL.revokeObjectURL(state.file.url);
  state.file = { id, url: fetchFile(id).then((blob) => URL.createObjectURL(blob)) };
  state.file.url.catch(() => { if (state.file && state.file.id === id) state.file = null; });
  return state.file.url;
}

function renderFile(message) {
  if (!hasFile(message)) return null;
  const box = el("div", { class: "customer-file", id: "customer-file" });
  const kind = message.message_type.replace(/^edit:/, "");
  const fail = (exc) => box.replaceChildren(el("p", { class: "error small", role: "alert" },
    t("file.failed", { message: exc.message })));
  if (PICTURES.has(kind)) {
    box.append(el("p", { class: "muted small" }, t("file.loading")));
    fileUrl(message.id).then((url) => box.replaceChildren(
      el("img", { src: url, alt: t("file.picture"), class: "customer-picture" }))).catch(fail);
    return box;
  }
  const name = message.media.file_name || message.media.filename || `${kind}-${message.id}`;
  box.append(el("button", { type: "button", id: "file-download", onclick: () => fileUrl(message.id)
    .then((url) => { el("a", { href: url, download: name }).click(); }).catch(fail) },
  t("file.download", { kind })));
  return box;
}

function deliveryText(delivery) {
  if (!delivery) return t("delivery.none");
  const text = t(`delivery.${delivery.status}`);
  const failedPart = delivery.parts.find((part) => part.status === "failed");
  return failedPart ? `${text} (${failedPart.error_code}: ${failedPart.error_reason})` : text;
}

function suggestionMeta(suggestion) {
  const similarity = suggestion.similarity.toFixed(3);
  if (typeof suggestion.confidence === "number") {
    return t("suggestion.meta", {
      confidence: percent(suggestion.confidence), needed: percent(suggestion.min_confidence ?? 0),
      similarity, method: suggestion.method,
    });
  }
  return t("suggestion.meta_old", { similarity, threshold: suggestion.threshold, method: suggestion.method });
}

function renderSuggestion(message, candidates, offered) {
  const suggestion = message.suggestion;
  if (!suggestion) {
    const none = offered ? "suggestion.none_offered" : "suggestion.none";
    const text = message.validated_by === "human" ? t("suggestion.none_human")
      : t(closing.isClosed(message) ? "closing.no_suggestion" : none); // nothing to write
    return [el("h3", {}, t("suggestion.title")), el("p", { class: "muted" }, text)];
  }
  const sources = new Set(suggestion.source_ids || []);
  const items = (candidates && candidates.items) || [];
  return [
    el("h3", {}, t("suggestion.title")),
    message.validated_by === "ai"
      ? el("div", { class: "suggestion", id: "suggestion-text" }, message.answer) : null,
    el("p", { class: "muted small", id: "suggestion-meta" }, suggestionMeta(suggestion),
      suggestion.auto_send ? t("suggestion.auto") : "",
      message.validated_by === "human" ? t("suggestion.reviewed") : ""),
    el("h3", {}, t("sources.title")),
    items.length === 0 ? el("p", { class: "muted" }, t("sources.none")) :
      el("ul", { class: "sources" }, items.map((c) => el(
        "li", { class: sources.has(c.id) ? "source" : "" },
        el("div", {}, el("strong", {}, sources.has(c.id) ? t("sources.source") : ""),
          t("sources.line", { id: c.id, sector: c.sector || t("no_sector"), similarity: c.similarity.toFixed(3) })),
        el("div", { class: "q" }, t("sources.q", { text: c.message })),
        el("div", {}, t("sources.a", { text: c.answer })),
      ))),
  ].filter(Boolean);
}

// The answers the decision ranks for the message, besides the one it suggests: the right
// one is among the first three far more often than it clears the bar, so an operator
// answering by hand starts from them (GET /operator/messages/{id}/answers).
function possibleAnswers(message, answers) {
  const suggested = message.validated_by === "ai" ? message.answer : null;
  return ((answers && answers.items) || []).filter((a) => a.answer !== suggested);
}

function renderAnswers(message, answers, usable) {
  const items = possibleAnswers(message, answers);
  if (!usable || !items.length) return [];
  return [
    el("h3", {}, t("answers.title")),
    el("p", { class: "muted small" }, t(message.validated_by === "ai" ? "answers.others" : "answers.below")),
    el("ol", { class: "sources answers", id: "possible-answers" }, items.map((a, at) => el("li", {},
      el("div", { class: "answer-text" }, a.answer),
      el("div", { class: "answer-meta" },
        el("span", { class: "muted small" },
          t("answers.line", { sector: a.sector || t("no_sector"), similarity: a.similarity.toFixed(3) })),
        el("button", { type: "button", class: "use", onclick: () => useAnswer(at) },
          t("answers.use", { n: at + 1 }))),
    ))),
  ];
}

// Puts the n-th possible answer in the answer box, for the operator to adjust and send.
function useAnswer(at) {
  const message = state.detail?.message;
  const chosen = message && possibleAnswers(message, state.detail.answers)[at];
  const box = $("answer");
  if (!chosen || !box || box.disabled) return;
  box.value = chosen.answer;
  state.draft = { id: message.id, text: chosen.answer };
  keepPlace();
  box.focus();
  showStatus(message.id, t("status.used", { n: at + 1 }));
}

// The outcome of the last action on message `id`, under its answer box (kept across re-renders).
function showStatus(id, text, error = false) {
  state.status = { id, text, error };
  const node = $("action-status");
  if (state.selected === id && node) sayIn(node, text, error);
}

function renderHistory(message, history) {
  const others = ((history && history.items) || []).filter((m) => m.id !== message.id);
  return [
    el("h3", {}, t("history.title")),
    others.length === 0 ? el("p", { class: "muted" }, t("history.first")) :
      el("ul", { class: "history" }, others.map((m) => el("li", {},
        el("div", { class: "when" }, `#${m.id} · ${when(m.created_at)} · ${
          closing.isClosed(m) ? closing.label(m) : stateName(m.validated_by)}`),
        el("div", {}, m.message),
        m.answer && m.validated_by === "human" ? el("div", { class: "reply" }, `↳ ${m.answer}`) : null,
      ))),
    notes.section(message), // notes.js: what the operators tell each other about the customer
    blocking.section(message), // blocking.js: Bloquear cliente, or who blocked them
    el("button", { type: "button", id: "open-conversation", onclick: () => openConversation() },
      t("history.open")),
  ];
}

function renderAssignment(message, open) {
  const mine = isMine(message);
  const holder = !message.assigned_to ? t("assigned.nobody")
    : t(mine ? "assigned.me" : "assigned.someone",
      { name: message.assigned_to, time: clock(message.assigned_at) });
  const others = state.sectors.filter((name) => name !== message.sector);
  const transfer = el("select", { id: "transfer-sector", "aria-label": t("transfer.to") },
    others.map((name) => el("option", { value: name }, name)));
  return {
    holder,
    controls: el("div", { class: "assignment" },
      // An admin gives back what a colleague left taken (the API lets an admin release it).
      message.assigned_to && (mine || state.admin)
        ? el("button", { type: "button", id: "release", disabled: !open, onclick: () => act("release"),
          title: mine ? null : t("action.release_admin_title", { name: message.assigned_to }) },
        t("action.release"))
        : el("button", { type: "button", id: "take", disabled: !open || Boolean(message.assigned_to),
          onclick: () => act("take") }, t("action.take")),
      el("label", { class: "transfer" }, el("span", { class: "small muted" }, t("transfer.to")), transfer),
      el("button", { type: "button", id: "transfer", disabled: !open || !others.length,
        onclick: () => act("transfer") }, t("action.transfer"))),
  };
}

// A live redraw replaces the detail's nodes. The field being typed in (the answer, a note)
// keeps the focus and the cursor, or the next keys would go to the page's shortcuts
// (`a` approves) instead of the text.
function keepFocus(node) {
  const active = document.activeElement;
  const id = active && active.id && node.contains(active) ? active.id : null;
  const range = id && typeof active.selectionStart === "number"
    ? [active.selectionStart, active.selectionEnd] : null;
  return () => {
    const again = id ? document.getElementById(id) : null;
    if (!again || again === document.activeElement || again.disabled) return;
    again.focus();
    if (range && typeof again.setSelectionRange === "function") again.setSelectionRange(...range);
  };
}

function renderDetail() {
  const { message, candidates, answers, history } = state.detail;
  const restoreFocus = keepFocus($("detail"));
  // Closed without an answer (closing.js): nothing to answer until it is reopened. An
  // answer waiting to go (sending.js) is undone, not answered again.
  const held = sending.isHeld(message.id);
  const open = message.validated_by !== "human" && !closing.isClosed(message) && !held;
  const elsewhere = Boolean(message.assigned_to) && !isMine(message);
  const suggested = open && message.validated_by === "ai" && !elsewhere;
  const draft = state.draft && state.draft.id === message.id ? state.draft.text : null;
  const answer = el("textarea", { id: "answer", "aria-label": t("answer.label"),
    placeholder: t("answer.placeholder"), disabled: !open || elsewhere,
    oninput: (event) => {
      state.draft = { id: message.id, text: event.target.value };
      keepPlace();
    } },
  sending.text(message.id) ?? (open && draft !== null ? draft : message.answer || ""));
  const status = state.status && state.status.id === message.id ? state.status : null;
  const sector = message.sector
    ? `${message.sector} ${message.sector_confidence !== null
      ? t("sector.confidence", { value: percent(message.sector_confidence) }) : t("sector.given")}`
    : t("no_sector");
  const assignment = renderAssignment(message, open);
  const offered = renderAnswers(message, answers, open && !elsewhere);
  const closer = closing.controls(message, elsewhere); // Encerrar sem resposta, or Reabrir
  fill($("detail"),
    el("h2", {}, t("message.title", { id: message.id })),
    closing.notice(message),
    whatsappWindow.notice(message), // whatsapp.js: the window closes soon, or has closed
    elsewhere && open
      ? el("p", { class: "notice", id: "taken-notice", role: "status" },
        t(state.admin ? "assigned.other_banner_admin" : "assigned.other_banner", { name: message.assigned_to }))
      : null,
    el("dl", {},
      message.customer_name && el("dt", {}, t("field.customer")),
      // notes.count: "2 notas" beside the customer's name (or, without one, their channel)
      message.customer_name && el("dd", {},
        el("span", { id: "detail-customer" }, message.customer_name), notes.count(message),
        blocking.badge(message)),
      el("dt", {}, t("field.channel")),
      el("dd", {}, channelName(message.channel), message.customer_name ? null : notes.count(message),
        message.customer_name ? null : blocking.badge(message)),
      el("dt", {}, t("field.sector")), el("dd", { id: "detail-sector" }, sector),
      el("dt", {}, t("field.received")), el("dd", {}, when(message.created_at)),
      el("dt", {}, t("field.assigned")), el("dd", { id: "detail-assigned" }, assignment.holder),
      el("dt", {}, t("field.state")), el("dd", { id: "detail-state" }, closing.state(message) ??
        (message.operator_name && !open
          ? t("state.by", { state: stateName(message.validated_by), name: message.operator_name })
          : stateName(message.validated_by))),
      el("dt", {}, t("field.delivery")), el("dd", { id: "delivery-state" }, deliveryText(message.delivery)),
      ...whatsappWindow.field(message)),
    open ? assignment.controls : null,
    el("p", { class: "customer", id: "customer-message" }, message.message),
    renderFile(message),
    together.section(message, open && !elsewhere), // together.js: the customer's other waiting lines
    ...renderSuggestion(message, candidates, offered.length > 0),
    ...offered,
    el("div", { class: "answer-head" }, el("h3", {}, t("answer.title")), replies.button()),
    replies.panel(message), // replies.js: saved replies, put in the answer box
    answer,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "primary", disabled: !suggested,
        onclick: () => act("approve") }, t("action.approve")),
      el("button", { type: "button", disabled: !suggested,
        onclick: () => act("edit") }, t("action.edit")),
      el("button", { type: "button", class: "danger", disabled: !suggested,
        onclick: () => act("reject") }, t("action.reject")),
      el("button", { type: "button", disabled: !open || elsewhere || message.validated_by === "ai",
        onclick: () => act("reply") }, t("action.reply")),
      held ? sending.control(message) : closer.button),
    closer.choice,
    el("p", { class: `status-line${status && status.error ? " error" : ""}`, id: "action-status",
      role: status && status.error ? "alert" : "status" }, status ? status.text : ""),
    ...renderHistory(message, history),
  );
  restoreFocus();
}

// Each action's call, as [method, path, body]; `input` is what the page holds: {text, who,
// sector, ticked}. An answer closes the customer's lines ticked beside it (together.js) in
// its own call: they leave the queue if and only if it is recorded, even when the page
// that sent it is gone by then.
const answering = (id, answer, { who, ticked }) => ["POST", `/operator/messages/${id}/approve`,
  { ...answer, ...who, ...(ticked.length ? { together: ticked } : {}) }];
const ACTIONS = {
  approve: (id, input) => answering(id, {}, input),
  edit: (id, input) => answering(id, { answer: input.text }, input),
  reject: (id) => ["POST", `/operator/messages/${id}/reject`],
  reply: (id, input) => answering(id, { answer: input.text }, input),
  take: (id, { who }) => ["POST", `/operator/messages/${id}/take`, who],
  release: (id, { who }) => ["POST", `/operator/messages/${id}/release`, who],
  transfer: (id, { sector, who }) => ["POST", `/operator/messages/${id}/transfer`, { sector, ...who }],
};
// What sends an answer to the customer: it waits a few seconds, to be undone (sending.js).
const SENDS = new Set(["approve", "edit", "reply"]);
const call = (action, id, input, options) => api(...ACTIONS[action](id, input), options);

async function act(action) {
  const id = state.selected;
  if (id === null || !state.detail || sending.isHeld(id)) return;
  const text = $("answer").value.trim();
  const who = state.operator ? { operator_name: state.operator } : {};
  if ((action === "edit" || action === "reply") && !text) {
    showStatus(id, t("status.write_first"), true);
    return;
  }
  const sector = action === "transfer" ? $("transfer-sector").value : null;
  for (const button of document.querySelectorAll("#detail button")) button.disabled = true;
  const input = { text, who, sector, ticked: SENDS.has(action) ? together.take(id) : [] };
  if (SENDS.has(action)) sending.hold(id, action, input);
  else await run(id, action, input);
}

// An action's call and what follows it. The error's text when the call failed, null
// otherwise (or when a key that stopped working signed the page out).
async function run(id, action, input) {
  const say = (line, error) => showStatus(id, line, error);
  say(t("status.sending"));
  let row;
  try {
    row = await call(action, id, input);
  } catch (exc) {
    const line = failed(exc, id);
    if (line === null) return null;
    say(line, true);
    await Promise.all([state.selected === id && loadDetail(id), refreshQueue()]);
    return line;
  }
  if (action === "take" && row && row.assigned_to) state.me = row.assigned_to;
  let covered = null; // together.js: what became of the customer's other lines it named
  if (action !== "take" && action !== "release" && action !== "transfer") {
    if (state.draft && state.draft.id === id) state.draft = null;
    keepPlace();
    if (action !== "reject") covered = together.said(row);
  }
  say([t(`status.${action}`, { sector: input.sector }), covered && covered.text].filter(Boolean).join(" "),
    Boolean(covered && covered.error));
  await Promise.all([state.selected === id && loadDetail(id), refreshQueue()]);
  return null;
}
