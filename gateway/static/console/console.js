// The operator console: sign in with an API key, watch the queue live, take a message,
// answer customers, read a customer's whole conversation, search past messages (the saved
// replies beside the answer box are replies.js's; closing one without an answer, closing.js's;
// the internal notes about a customer, notes.js's; a customer's other waiting lines,
// together.js's; WhatsApp's 24-hour window, whatsapp.js's).
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

const STRINGS = {
  "pt-BR": {
    "title": "Console do operador", "title.short": "· console do operador",
    "title.late_one": "1 atrasada", "title.late": "{count} atrasadas",
    "signin.key": "Chave de API (operador ou administrador)",
    "signin.name": "Seu nome (opcional, fica registrado nas respostas)",
    "signin.submit": "Entrar",
    "signin.note": "A chave fica só nesta aba (sessionStorage) e é apagada ao sair.",
    "signin.bad_key": "Chave inválida ou revogada. Confira a chave e tente de novo.",
    "signin.wrong_role": "Esta chave não dá acesso ao console: use uma chave de operador ou de administrador.",
    "signin.too_many": "Muitas tentativas seguidas. Aguarde um pouco e tente de novo.",
    "signin.failed": "Não foi possível entrar: {message}.",
    "signin.expired": "Sua chave deixou de valer (expirou ou foi revogada); entre de novo. Nada do que estava na tela foi enviado.",
    "offline": "sem conexão com o atende",
    "search.placeholder": "Buscar mensagens parecidas (/)",
    "search.title": "Busca semântica, como em POST /messages/search",
    "filter.sector": "Setor", "filter.all": "Todos os setores",
    "filter.holder": "Mostrar", "filter.holder_all": "Todas", "filter.holder_free": "Só as livres",
    "filter.holder_mine": "Só as minhas",
    "queue.empty_free": "Nenhuma mensagem livre: todas as que esperam estão com alguém.",
    "queue.empty_mine": "Você não está com nenhuma mensagem. Assumir (t) põe uma aqui.",
    "live.connecting": "conectando…", "live.on": "ao vivo", "live.off": "reconectando…",
    "nav.analytics": "Análises", "nav.signout": "Sair",
    "operator": "Operador: {name}", "operator.admin": "Operador: {name} (administrador)",
    "action.release_admin_title": "Devolver à fila a mensagem que {name} assumiu (você é administrador)",
    "queue.title": "Fila pendente", "queue.empty": "Nenhuma mensagem esperando resposta.",
    "queue.more": "Mostrando as {shown} mais antigas de {total}: as demais aparecem conforme estas são respondidas, ou filtrando por setor.",
    "queue.taken_by": "com {name}", "queue.taken_by_me": "com você",
    "queue.late": "{count} há mais de {target}", "queue.late_title": "Esperando há mais que o prazo de resposta ({target})",
    "queue.late_badge": "atrasada",
    "queue.next": "Próxima livre", "queue.next_title": "Abrir a mais antiga que ninguém assumiu (n)",
    "queue.none_free": "Nenhuma outra mensagem livre na fila.",
    "file.loading": "carregando a imagem que o cliente enviou…",
    "file.picture": "Imagem enviada pelo cliente",
    "file.download": "Baixar o arquivo do cliente ({kind})",
    "file.failed": "Não foi possível trazer o arquivo: {message}",
    "notify.label": "Avisos",
    "notify.off": "Avisos desligados: clique para avisar no computador quando chegar uma mensagem e esta aba não estiver à vista",
    "notify.on": "Avisos ligados: uma mensagem que chega com esta aba fora de vista é avisada no computador (clique para desligar)",
    "notify.title": "Nova mensagem · {sector}",
    "notify.blocked": "O navegador bloqueou os avisos deste site: libere-os nas permissões do site para ligá-los.",
    "detail.choose": "Escolha uma mensagem da fila para ver os detalhes.",
    "channel.telegram": "Telegram", "channel.whatsapp": "WhatsApp", "channel.rest": "API",
    "state.pending": "sem resposta", "state.ai": "sugestão da IA", "state.human": "aprovada",
    "state.triage": "em triagem…",
    "delivery.none": "nenhuma resposta enviada ainda",
    "delivery.pending": "na fila de envio", "delivery.sending": "enviando", "delivery.sent": "enviada",
    "delivery.delivered": "entregue", "delivery.read": "lida", "delivery.failed": "falhou",
    "no_sector": "sem setor", "sector.given": "(informado)", "sector.confidence": "(confiança {value})",
    "waited": "há {age}",
    "message.title": "Mensagem #{id}",
    "field.channel": "Canal", "field.sector": "Setor", "field.received": "Recebida",
    "field.customer": "Cliente",
    "field.state": "Estado", "field.delivery": "Entrega", "field.assigned": "Com quem",
    "state.by": "{state} por {name}",
    "assigned.nobody": "ninguém: está livre", "assigned.someone": "{name}, desde {time}",
    "assigned.me": "você, desde {time}",
    "assigned.other_banner": "{name} está com esta mensagem. Você pode ver tudo, mas só quem a assumiu (ou um administrador) responde.",
    "assigned.other_banner_admin": "{name} está com esta mensagem. Como administrador, você pode devolvê-la à fila (Devolver à fila) para que outra pessoa a assuma.",
    "action.take": "Assumir", "action.release": "Devolver à fila",
    "action.transfer": "Transferir", "transfer.to": "Transferir para o setor",
    "action.approve": "Aprovar", "action.edit": "Editar e aprovar", "action.reject": "Rejeitar",
    "action.reply": "Responder",
    "suggestion.title": "Sugestão",
    "suggestion.none_human": "Respondida por um operador, sem sugestão.",
    "suggestion.none": "Nenhuma sugestão para esta mensagem: escreva a resposta.",
    "suggestion.none_offered": "Nenhuma sugestão para esta mensagem: escreva a resposta ou parta de uma das possíveis abaixo.",
    "suggestion.meta": "Confiança {confidence} (mínimo {needed}) · similaridade {similarity} · método {method}",
    "suggestion.meta_old": "Similaridade {similarity} (limiar {threshold}) · método {method}",
    "suggestion.auto": " · enviada automaticamente", "suggestion.reviewed": " · revisada por um operador",
    "sources.title": "Respostas de origem", "sources.none": "Sem respostas validadas parecidas.",
    "sources.source": "Origem ", "sources.line": "#{id} · {sector} · similaridade {similarity}",
    "sources.q": "Pergunta: {text}", "sources.a": "Resposta: {text}",
    "answers.title": "Respostas possíveis",
    "answers.below": "Nenhuma chegou à confiança mínima: confira se responde ao cliente antes de usar.",
    "answers.others": "Se a sugestão não serve, outras respostas validadas para mensagens parecidas:",
    "answers.line": "{sector} · similaridade {similarity}", "answers.use": "Usar ({n})",
    "status.used": "Resposta {n} no campo: ajuste se precisar e envie.",
    "answer.title": "Resposta", "answer.label": "Resposta ao cliente",
    "answer.placeholder": "Escreva a resposta ao cliente…",
    "history.title": "Histórico do cliente", "history.first": "Primeiro contato deste cliente.",
    "history.open": "Ver a conversa inteira (c)",
    "status.write_first": "Escreva a resposta antes de enviar.", "status.sending": "Enviando…",
    "status.approve": "Resposta aprovada: segue para o cliente (veja Entrega).",
    "status.edit": "Resposta editada e aprovada: segue para o cliente (veja Entrega).",
    "status.reject": "Sugestão rejeitada: a mensagem voltou para a fila sem resposta.",
    "status.reply": "Resposta registrada: segue para o cliente (veja Entrega).",
    "status.take": "Mensagem assumida: os outros operadores a veem com você.",
    "status.release": "Mensagem devolvida à fila.",
    "status.transfer": "Mensagem transferida para {sector}.",
    "error.not_found": "Esta mensagem não existe mais (#{id}). Nada foi enviado.",
    "error.conflict": "Não foi possível: {message}. A tela foi atualizada; nada foi enviado duas vezes.",
    "error.invalid": "Pedido recusado: {message}.",
    "error.generic": "Não foi possível: {message}.",
    "conversation.title": "Conversa com o cliente",
    "conversation.back": "Voltar à mensagem #{id}",
    "conversation.older": "Carregar mensagens anteriores",
    "conversation.count": "{shown} de {total} mensagens",
    "conversation.customer": "Cliente · {channel} · {time}",
    "conversation.suggested": "Sugestão da IA, aguardando aprovação",
    "conversation.answered": "Resposta de {name}",
    "conversation.answered_anon": "Resposta aprovada",
    "conversation.unanswered": "Ainda sem resposta",
    "conversation.open": "abrir",
    "search.title_results": "Busca: “{query}”", "search.none": "Nenhuma mensagem parecida.",
    "search.hit": "#{id} · {sector} · {state} · similaridade {similarity}",
    "help.title": "Atalhos do teclado", "help.close": "Fechar",
    "help.move": "próxima / anterior da fila", "help.approve": "aprovar a sugestão",
    "help.edit": "editar a resposta (Ctrl+Enter envia)", "help.reject": "rejeitar a sugestão",
    "help.take": "assumir / devolver a mensagem", "help.conversation": "ver a conversa inteira do cliente",
    "help.search": "buscar mensagens parecidas", "help.escape": "fechar / sair do campo de texto",
    "help.use": "usar a 1ª, 2ª ou 3ª resposta possível no campo de resposta",
    "help.help": "mostrar esta ajuda", "help.next": "a mais antiga que ninguém assumiu",
  },
  "en": {
    "title": "Operator console", "title.short": "· operator console",
    "title.late_one": "1 late", "title.late": "{count} late",
    "signin.key": "API key (operator or admin)",
    "signin.name": "Your name (optional, recorded on your answers)",
    "signin.submit": "Sign in",
    "signin.note": "The key stays in this tab only (sessionStorage) and is erased on sign-out.",
    "signin.bad_key": "Invalid or revoked key. Check it and try again.",
    "signin.wrong_role": "This key has no access to the console: use an operator or admin key.",
    "signin.too_many": "Too many attempts in a row. Wait a little and try again.",
    "signin.failed": "Could not sign in: {message}.",
    "signin.expired": "Your key is no longer valid (expired or revoked); sign in again. Nothing on the screen was sent.",
    "offline": "no connection to atende",
    "search.placeholder": "Search similar messages (/)",
    "search.title": "Semantic search, as POST /messages/search",
    "filter.sector": "Sector", "filter.all": "All sectors",
    "filter.holder": "Show", "filter.holder_all": "All", "filter.holder_free": "Free only",
    "filter.holder_mine": "Mine only",
    "queue.empty_free": "No free message: everyone waiting is with someone.",
    "queue.empty_mine": "You hold no message. Take (t) puts one here.",
    "live.connecting": "connecting…", "live.on": "live", "live.off": "reconnecting…",
    "nav.analytics": "Analytics", "nav.signout": "Sign out",
    "operator": "Operator: {name}", "operator.admin": "Operator: {name} (admin)",
    "action.release_admin_title": "Give back the message {name} took (you are an admin)",
    "queue.title": "Waiting queue", "queue.empty": "No message is waiting for an answer.",
    "queue.more": "Showing the {shown} oldest of {total}: the rest appear as these are answered, or by filtering by sector.",
    "queue.taken_by": "with {name}", "queue.taken_by_me": "with you",
    "queue.late": "{count} over {target}", "queue.late_title": "Waiting longer than the response target ({target})",
    "queue.late_badge": "late",
    "queue.next": "Next free", "queue.next_title": "Open the oldest one nobody has taken (n)",
    "queue.none_free": "No other free message in the queue.",
    "file.loading": "loading the picture the customer sent…",
    "file.picture": "Picture sent by the customer",
    "file.download": "Download the customer's file ({kind})",
    "file.failed": "Could not fetch the file: {message}",
    "notify.label": "Alerts",
    "notify.off": "Alerts off: click to be alerted on this computer when a message arrives and this tab is not in view",
    "notify.on": "Alerts on: a message that arrives while this tab is out of view is announced on this computer (click to turn off)",
    "notify.title": "New message · {sector}",
    "notify.blocked": "The browser blocks alerts from this site: allow them in the site's permissions to turn them on.",
    "detail.choose": "Choose a message from the queue to see its details.",
    "channel.telegram": "Telegram", "channel.whatsapp": "WhatsApp", "channel.rest": "API",
    "state.pending": "no answer", "state.ai": "AI suggestion", "state.human": "approved",
    "state.triage": "triaging…",
    "delivery.none": "no answer sent yet",
    "delivery.pending": "queued", "delivery.sending": "sending", "delivery.sent": "sent",
    "delivery.delivered": "delivered", "delivery.read": "read", "delivery.failed": "failed",
    "no_sector": "no sector", "sector.given": "(given)", "sector.confidence": "(confidence {value})",
    "waited": "{age} ago",
    "message.title": "Message #{id}",
    "field.channel": "Channel", "field.sector": "Sector", "field.received": "Received",
    "field.customer": "Customer",
    "field.state": "State", "field.delivery": "Delivery", "field.assigned": "Taken by",
    "state.by": "{state} by {name}",
    "assigned.nobody": "nobody: it is free", "assigned.someone": "{name}, since {time}",
    "assigned.me": "you, since {time}",
    "assigned.other_banner": "{name} has this message. You can see everything, but only they (or an admin) answer it.",
    "assigned.other_banner_admin": "{name} has this message. As an admin, you can give it back to the queue (Give back) for someone else to take.",
    "action.take": "Take", "action.release": "Give back",
    "action.transfer": "Transfer", "transfer.to": "Transfer to sector",
    "action.approve": "Approve", "action.edit": "Edit and approve", "action.reject": "Reject",
    "action.reply": "Reply",
    "suggestion.title": "Suggestion",
    "suggestion.none_human": "Answered by an operator, without a suggestion.",
    "suggestion.none": "No suggestion for this message: write the answer.",
    "suggestion.none_offered": "No suggestion for this message: write the answer, or start from one of the possible answers below.",
    "suggestion.meta": "Confidence {confidence} (at least {needed}) · similarity {similarity} · method {method}",
    "suggestion.meta_old": "Similarity {similarity} (threshold {threshold}) · method {method}",
    "suggestion.auto": " · sent automatically", "suggestion.reviewed": " · reviewed by an operator",
    "sources.title": "Source answers", "sources.none": "No similar validated answers.",
    "sources.source": "Source ", "sources.line": "#{id} · {sector} · similarity {similarity}",
    "sources.q": "Question: {text}", "sources.a": "Answer: {text}",
    "answers.title": "Possible answers",
    "answers.below": "None reached the minimum confidence: check that it answers the customer before using it.",
    "answers.others": "If the suggestion does not fit, other validated answers to similar messages:",
    "answers.line": "{sector} · similarity {similarity}", "answers.use": "Use ({n})",
    "status.used": "Answer {n} is in the box: adjust it if needed, then send.",
    "answer.title": "Answer", "answer.label": "Answer to the customer",
    "answer.placeholder": "Write the answer to the customer…",
    "history.title": "Customer history", "history.first": "This customer's first contact.",
    "history.open": "See the whole conversation (c)",
    "status.write_first": "Write the answer before sending.", "status.sending": "Sending…",
    "status.approve": "Answer approved: on its way to the customer (see Delivery).",
    "status.edit": "Answer edited and approved: on its way to the customer (see Delivery).",
    "status.reject": "Suggestion rejected: the message is back in the queue without an answer.",
    "status.reply": "Answer recorded: on its way to the customer (see Delivery).",
    "status.take": "Message taken: the other operators see it with you.",
    "status.release": "Message given back to the queue.",
    "status.transfer": "Message transferred to {sector}.",
    "error.not_found": "This message no longer exists (#{id}). Nothing was sent.",
    "error.conflict": "Not possible: {message}. The screen was refreshed; nothing was sent twice.",
    "error.invalid": "Request refused: {message}.",
    "error.generic": "Not possible: {message}.",
    "conversation.title": "Conversation with the customer",
    "conversation.back": "Back to message #{id}",
    "conversation.older": "Load earlier messages",
    "conversation.count": "{shown} of {total} messages",
    "conversation.customer": "Customer · {channel} · {time}",
    "conversation.suggested": "AI suggestion, waiting for approval",
    "conversation.answered": "Answer by {name}",
    "conversation.answered_anon": "Approved answer",
    "conversation.unanswered": "Not answered yet",
    "conversation.open": "open",
    "search.title_results": "Search: “{query}”", "search.none": "No similar message.",
    "search.hit": "#{id} · {sector} · {state} · similarity {similarity}",
    "help.title": "Keyboard shortcuts", "help.close": "Close",
    "help.move": "next / previous in the queue", "help.approve": "approve the suggestion",
    "help.edit": "edit the answer (Ctrl+Enter sends)", "help.reject": "reject the suggestion",
    "help.take": "take / give back the message", "help.conversation": "see the customer's whole conversation",
    "help.search": "search similar messages", "help.escape": "close / leave the text field",
    "help.use": "put the 1st, 2nd or 3rd possible answer in the answer box",
    "help.help": "show this help", "help.next": "the oldest one nobody has taken",
  },
};

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
  // {id, text}: what the operator typed, kept across live re-renders and reloads
  draft: place.draft && Number.isInteger(place.draft.id) && typeof place.draft.text === "string"
    ? place.draft : null,
  status: null,      // {id, text, error}: the last action's outcome, kept likewise
};

const $ = (id) => document.getElementById(id);
// Replaces a node's children, leaving out the parts a view does not show (null, false).
const fill = (node, ...children) => node.replaceChildren(
  ...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
const api = (method, path, body) => atende.api(state.key, method, path, body, t("offline"));

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

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refreshQueue, 150);
}

async function refreshQueue() {
  const query = new URLSearchParams({ per_page: "100" });
  if (state.sector) query.set("sector", state.sector);
  if (state.holder === "free") query.set("free", "true");
  // Ours: the name the gateway records for us (GET /operator/me, or the one signed in with).
  if (state.holder === "mine" && state.me) query.set("held_by", state.me);
  try {
    const page = await api("GET", `/operator/queue?${query}`);
    state.items = page.items;
    state.total = page.total;
    state.late = page.late;
    state.target = page.response_target_seconds;
    state.loadedAt = Date.now();
    $("queue-count").textContent = String(page.total);
    pageError(null);
  } catch (exc) {
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
function showLate() {
  const late = Math.max(state.late, state.items.filter(isLate).length);
  const target = age(state.target);
  const badge = $("queue-late");
  badge.hidden = late === 0;
  badge.textContent = t("queue.late", { count: late, target });
  badge.title = t("queue.late_title", { target });
  showCount(state.total, late);
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren(...state.items.map((message) => el(
    "li",
    {
      class: ["queue-item", message.id === state.selected && "selected",
        state.fresh.has(message.id) && "fresh", message.assigned_to && "taken",
        isLate(message) && "late"]
        .filter(Boolean).join(" "),
      "data-id": message.id,
      tabindex: "0",
      onclick: () => select(message.id),
      onkeydown: (event) => { if (event.key === "Enter") select(message.id); },
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
  state.fresh.clear();
  showLate();
  $("queue-note").textContent = "";
  $("queue-empty").hidden = state.items.length > 0;
  $("queue-empty").textContent = t(state.holder ? `queue.empty_${state.holder}` : "queue.empty");
  const more = $("queue-more");
  more.hidden = state.total <= state.items.length;
  more.textContent = more.hidden ? "" : t("queue.more", { shown: state.items.length, total: state.total });
}

// --- One message ----------------------------------------------------------------------

async function select(id) {
  if (id !== state.selected) state.draft = state.status = null;
  state.selected = id;
  state.view = "message";
  keepPlace();
  renderQueue();
  await loadDetail(id);
}

async function loadDetail(id) {
  try {
    const message = await api("GET", `/messages/${id}`);
    const [candidates, answers, history] = await Promise.all([
      api("GET", `/operator/messages/${id}/candidates?limit=5`).catch(() => null),
      api("GET", `/operator/messages/${id}/answers?limit=3`).catch(() => null),
      api("GET", `/messages/client/${message.client_id}?per_page=10`).catch(() => null),
      notes.load(message), // notes.js: the customer's internal notes (the feed carries none)
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
  if (state.selected === id && node) {
    node.textContent = text;
    node.className = `status-line${error ? " error" : ""}`;
    node.setAttribute("role", error ? "alert" : "status");
  }
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
  // Closed without an answer (closing.js): nothing to answer until it is reopened.
  const open = message.validated_by !== "human" && !closing.isClosed(message);
  const elsewhere = Boolean(message.assigned_to) && !isMine(message);
  const suggested = open && message.validated_by === "ai" && !elsewhere;
  const draft = state.draft && state.draft.id === message.id ? state.draft.text : null;
  const answer = el("textarea", { id: "answer", "aria-label": t("answer.label"),
    placeholder: t("answer.placeholder"), disabled: !open || elsewhere,
    oninput: (event) => {
      state.draft = { id: message.id, text: event.target.value };
      keepPlace();
    } },
  open && draft !== null ? draft : message.answer || "");
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
        el("span", { id: "detail-customer" }, message.customer_name), notes.count(message)),
      el("dt", {}, t("field.channel")),
      el("dd", {}, channelName(message.channel), message.customer_name ? null : notes.count(message)),
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
      closer.button),
    closer.choice,
    el("p", { class: `status-line${status && status.error ? " error" : ""}`, id: "action-status",
      role: status && status.error ? "alert" : "status" }, status ? status.text : ""),
    ...renderHistory(message, history),
  );
  restoreFocus();
}

// Each action's call; `input` is what the page holds: {text, who, sector}.
const ACTIONS = {
  approve: (id, { who }) => api("POST", `/operator/messages/${id}/approve`, who),
  edit: (id, { text, who }) => api("POST", `/operator/messages/${id}/approve`, { answer: text, ...who }),
  reject: (id) => api("POST", `/operator/messages/${id}/reject`),
  reply: (id, { text, who }) => api("PUT", `/messages/${id}`, { answer: text, validated_by: "human", ...who }),
  take: (id, { who }) => api("POST", `/operator/messages/${id}/take`, who),
  release: (id, { who }) => api("POST", `/operator/messages/${id}/release`, who),
  transfer: (id, { sector, who }) => api("POST", `/operator/messages/${id}/transfer`, { sector, ...who }),
};

async function act(action) {
  const id = state.selected;
  if (id === null || !state.detail) return;
  const text = $("answer").value.trim();
  const who = state.operator ? { operator_name: state.operator } : {};
  const say = (line, error) => showStatus(id, line, error);
  if ((action === "edit" || action === "reply") && !text) {
    say(t("status.write_first"), true);
    return;
  }
  const sector = action === "transfer" ? $("transfer-sector").value : null;
  for (const button of document.querySelectorAll("#detail button")) button.disabled = true;
  say(t("status.sending"));
  let row;
  try {
    row = await ACTIONS[action](id, { text, who, sector });
  } catch (exc) {
    const line = failed(exc, id);
    if (line === null) return;
    say(line, true);
    await Promise.all([loadDetail(id), refreshQueue()]);
    return;
  }
  if (action === "take" && row && row.assigned_to) state.me = row.assigned_to;
  let covered = null; // together.js: the customer's other lines this answer covered
  if (action !== "take" && action !== "release" && action !== "transfer") {
    state.draft = null;
    keepPlace();
    if (action !== "reject") covered = await together.after(id);
  }
  say([t(`status.${action}`, { sector }), covered && covered.text].filter(Boolean).join(" "),
    Boolean(covered && covered.error));
  await Promise.all([loadDetail(id), refreshQueue()]);
}

// --- A customer's whole conversation --------------------------------------------------

async function openConversation() {
  if (!state.detail) return;
  const client = state.detail.message.client_id;
  state.view = "conversation";
  state.conversation = { client, items: [], page: 0, pages: 1, total: 0 };
  await loadOlder();
}

// Pages come newest first; the view shows them oldest first, newest at the bottom.
async function loadOlder() {
  const conversation = state.conversation;
  if (!conversation || conversation.page >= conversation.pages) return;
  const next = conversation.page + 1;
  try {
    const page = await api("GET",
      `/messages/client/${conversation.client}?page=${next}&per_page=${CONVERSATION_PAGE}`);
    if (state.conversation !== conversation) return;
    const known = new Set(conversation.items.map((m) => m.id));
    const older = page.items.filter((m) => !known.has(m.id)).reverse();
    Object.assign(conversation, {
      items: [...older, ...conversation.items], page: next, pages: page.pages, total: page.total,
    });
  } catch (exc) {
    const text = failed(exc);
    if (text) pageError(text);
    return;
  }
  renderConversation(next === 1);
}

function turn(message) {
  const replies = [];
  const closed = closing.turn(message); // closing.js: who closed it without an answer, and why
  if (closed) {
    replies.push(closed);
  } else if (message.validated_by === "ai" && message.answer) {
    replies.push(el("div", { class: "bubble suggested" },
      el("div", { class: "who" }, t("conversation.suggested")), message.answer));
  } else if (message.validated_by === "human" && message.answer) {
    replies.push(el("div", { class: "bubble agent" },
      el("div", { class: "who" }, message.operator_name
        ? t("conversation.answered", { name: message.operator_name }) : t("conversation.answered_anon")),
      message.answer,
      el("div", { class: `delivery ${message.delivery ? message.delivery.status : ""}` },
        deliveryText(message.delivery))));
  } else {
    replies.push(el("div", { class: "bubble none muted small" }, t("conversation.unanswered")));
  }
  return el("li", { class: "turn", "data-id": message.id },
    el("div", { class: "bubble customer-bubble" },
      el("div", { class: "who" },
        message.customer_name
          ? `${message.customer_name} · ${channelName(message.channel)} · ${when(message.created_at)}`
          : t("conversation.customer", { channel: channelName(message.channel), time: when(message.created_at) }),
        " · ", el("a", { href: "#", onclick: (event) => { event.preventDefault(); select(message.id); } },
          `#${message.id} ${t("conversation.open")}`)),
      message.message),
    ...replies);
}

function renderConversation(scrollToEnd) {
  const conversation = state.conversation;
  const back = state.selected;
  const list = el("ol", { class: "thread", id: "thread" }, conversation.items.map(turn));
  fill($("detail"),
    el("div", { class: "detail-head" },
      el("h2", {}, t("conversation.title")),
      back !== null ? el("button", { type: "button", id: "back-to-message",
        onclick: () => select(back) }, t("conversation.back", { id: back })) : null),
    el("p", { class: "muted small", id: "thread-count" },
      t("conversation.count", { shown: conversation.items.length, total: conversation.total })),
    conversation.page < conversation.pages
      ? el("button", { type: "button", id: "load-older", onclick: loadOlder }, t("conversation.older")) : null,
    list,
  );
  if (scrollToEnd) list.lastElementChild?.scrollIntoView({ block: "end" });
}

// --- Search -----------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  state.view = "search";
  try {
    const result = await api("POST", "/messages/search", { query, limit: 20 });
    state.search = { query, items: result.items };
  } catch (exc) {
    const text = failed(exc);
    if (text) pageError(text);
    return;
  }
  renderSearch();
}

function renderSearch() {
  const { query, items } = state.search;
  $("detail").replaceChildren(
    el("h2", {}, t("search.title_results", { query })),
    items.length === 0 ? el("p", { class: "muted", id: "search-empty" }, t("search.none")) :
      el("ul", { class: "results", id: "search-results" }, items.map((hit) => el("li", {
        tabindex: "0", "data-id": hit.id,
        onclick: () => select(hit.id),
        onkeydown: (event) => { if (event.key === "Enter") select(hit.id); },
      },
      el("div", { class: "when" }, t("search.hit", {
        id: hit.id, sector: hit.sector || t("no_sector"), state: stateName(hit.validated_by),
        similarity: hit.similarity.toFixed(3),
      })),
      el("div", {}, hit.message),
      hit.answer && hit.validated_by === "human" ? el("div", { class: "reply" }, `↳ ${hit.answer}`) : null))),
  );
}

// --- Keyboard -------------------------------------------------------------------------

function moveSelection(step) {
  if (!state.items.length) return;
  const at = state.items.findIndex((m) => m.id === state.selected);
  const next = at < 0 ? 0 : Math.min(state.items.length - 1, Math.max(0, at + step));
  select(state.items[next].id).then(() => {
    document.querySelector(`#queue-list li[data-id="${state.items[next]?.id}"]`)?.scrollIntoView({ block: "nearest" });
  });
}

// The oldest message that nobody else holds, other than the one open: where an operator
// goes after answering, without opening what a colleague is already answering.
function nextFree() {
  const next = state.items.find((m) => m.id !== state.selected && (!m.assigned_to || isMine(m)));
  $("queue-note").textContent = next ? "" : t("queue.none_free");
  if (!next) return;
  select(next.id).then(() => {
    document.querySelector(`#queue-list li[data-id="${next.id}"]`)?.scrollIntoView({ block: "nearest" });
  });
}

function toggleHelp(show) {
  $("help").hidden = !show;
  if (show) $("help-close").focus();
}

function onKey(event) {
  if ($("app-view").hidden) return;
  const typing = event.target.closest("input, textarea, select");
  if (event.key === "Escape") {
    if (!$("help").hidden) toggleHelp(false);
    else if (typing) event.target.blur();
    else if (!closing.cancel()) replies.close();
    return;
  }
  if (typing) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "answer") {
      event.preventDefault();
      const message = state.detail?.message;
      if (message) act(message.validated_by === "ai" ? "edit" : "reply");
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || !$("help").hidden && event.key !== "?") return;
  const message = state.view === "message" ? state.detail?.message : null;
  const shortcuts = {
    j: () => moveSelection(1), ArrowDown: () => moveSelection(1),
    k: () => moveSelection(-1), ArrowUp: () => moveSelection(-1),
    a: () => message && !$("detail").querySelector(".actions .primary")?.disabled && act("approve"),
    r: () => message && !$("detail").querySelector(".actions .danger")?.disabled && act("reject"),
    e: () => { const answer = $("answer"); if (answer && !answer.disabled) answer.focus(); },
    t: () => {
      if (!message) return;
      const button = $("release") || $("take");
      if (button && !button.disabled) act(button.id);
    },
    c: () => state.detail && openConversation(),
    p: () => message && replies.open(),
    x: () => message && closing.key(),
    o: () => message && notes.focus(),
    n: nextFree,
    1: () => message && useAnswer(0), 2: () => message && useAnswer(1), 3: () => message && useAnswer(2),
    "/": () => $("search-input").focus(),
    "?": () => toggleHelp($("help").hidden),
  };
  const run = shortcuts[event.key];
  if (run) {
    event.preventDefault();
    run();
  }
}

// --- Live updates ---------------------------------------------------------------------

function setLive(on) {
  const live = $("live-status");
  live.className = `live ${on ? "on" : "off"}`;
  live.textContent = t(on ? "live.on" : "live.off");
}

// --- Desktop alerts -------------------------------------------------------------------

const canNotify = () => "Notification" in window;

function showNotifyToggle() {
  const button = $("notify-toggle");
  button.hidden = !canNotify();
  const on = state.notify && canNotify() && Notification.permission === "granted";
  button.title = t(on ? "notify.on" : "notify.off");
  button.setAttribute("aria-pressed", String(on));
}

async function toggleNotify() {
  const on = !(state.notify && Notification.permission === "granted");
  if (on && Notification.permission !== "granted" && await Notification.requestPermission() !== "granted") {
    pageError(t("notify.blocked"));
    state.notify = false;
  } else {
    state.notify = on;
  }
  localStorage.setItem(STORE_NOTIFY, state.notify ? "on" : "off");
  showNotifyToggle();
}

// A new message, once routed, of the sector shown (or any), while this tab is out of
// view: an operator working in another window learns of it without watching the tab.
function notify(message) {
  if (!state.notify || !canNotify() || Notification.permission !== "granted") return;
  // Already answered (by a human, or auto-sent by its sector): nobody needs to come.
  if (document.visibilityState === "visible" || message.answered_at) return;
  if (state.notified.has(message.id) || (state.sector && message.sector !== state.sector)) return;
  if (state.notified.size > 1000) state.notified.clear();
  state.notified.add(message.id);
  const alert = new Notification(t("notify.title", { sector: message.sector || t("no_sector") }), {
    body: message.message.length > 140 ? `${message.message.slice(0, 140)}…` : message.message,
    tag: `atende-${message.id}`,
  });
  alert.onclick = () => {
    window.focus();
    select(message.id);
    alert.close();
  };
}

function onEvent(kind, event) {
  const message = event.message;
  if (kind === "message.stored") state.fresh.add(message.id);
  if (kind === "message.triaged") notify(message);
  scheduleRefresh();
  // The open message's detail shows its customer's other messages too (history, together.js).
  const open = state.detail && state.detail.message.id === state.selected ? state.detail.message : null;
  const theirs = open && message.client_id === open.client_id;
  if ((message.id === state.selected || theirs) && state.view === "message") loadDetail(state.selected);
  const conversation = state.conversation;
  if (state.view === "conversation" && conversation && message.client_id === conversation.client) {
    const at = conversation.items.findIndex((m) => m.id === message.id);
    if (at >= 0) conversation.items[at] = message;
    else if (kind === "message.stored") {
      conversation.items.push(message);
      conversation.total += 1;
    }
    renderConversation(kind === "message.stored");
  }
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
      if (response.status === 401 || response.status === 403) return signOut(t("signin.expired"));
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
  setInterval(() => { if (!$("app-view").hidden && state.items.length) renderQueue(); }, 30_000);
  if (state.key) showApp();
  else $("signin-view").hidden = false;
});
