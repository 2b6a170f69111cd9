// Blocking a customer who sends spam or abuse: under their history, "Bloquear cliente"
// asks to confirm, then PUT /operator/clients/{id}/block closes their waiting messages and
// makes their next ones arrive closed (stored, never queued, nothing sent); a blocked
// customer's detail says who blocked them, with Desbloquear. Only Telegram and WhatsApp
// customers (GET /operator/clients/{id} is 404 for a REST client: nothing is shown).
// Loaded after console.js and its parts, whose STRINGS (strings.js), state, t, api, el,
// when, failed, loadDetail and refreshQueue it uses; the console calls blocking.load(message)
// (in loadDetail), blocking.section(message) and blocking.badge(message).
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "blocking.button": "Bloquear cliente",
  "blocking.button_title": "Para spam ou abuso: as mensagens deste cliente deixam de entrar na fila",
  "blocking.confirm": "Bloquear {name}? As mensagens dele que esperam saem da fila, e as próximas chegam encerradas: ficam guardadas, mas ninguém é chamado e nada é enviado a ele.",
  "blocking.confirm_yes": "Bloquear", "blocking.confirm_no": "Cancelar",
  "blocking.someone": "este cliente",
  "blocking.state": "Cliente bloqueado por {name} em {time}: as mensagens dele chegam encerradas e não entram na fila.",
  "blocking.unblock": "Desbloquear", "blocking.badge": "bloqueado",
  "blocking.unblock_title": "As próximas mensagens dele voltam a entrar na fila (as encerradas continuam encerradas)",
  "blocking.done_one": "Cliente bloqueado: 1 mensagem dele saiu da fila.",
  "blocking.done": "Cliente bloqueado: {count} mensagens dele saíram da fila.",
  "blocking.undone": "Cliente desbloqueado: as próximas mensagens dele entram na fila.",
  "closing.reason.blocked": "Cliente bloqueado",
  "closing.short.blocked": "cliente bloqueado",
  "closing.history_blocked": "cliente bloqueado",
});

Object.assign(STRINGS.en, {
  "blocking.button": "Block customer",
  "blocking.button_title": "For spam or abuse: this customer's messages stop entering the queue",
  "blocking.confirm": "Block {name}? Their waiting messages leave the queue, and their next ones arrive closed: kept, but nobody is called and nothing is sent to them.",
  "blocking.confirm_yes": "Block", "blocking.confirm_no": "Cancel",
  "blocking.someone": "this customer",
  "blocking.state": "Customer blocked by {name} on {time}: their messages arrive closed and do not enter the queue.",
  "blocking.unblock": "Unblock", "blocking.badge": "blocked",
  "blocking.unblock_title": "Their next messages enter the queue again (those closed stay closed)",
  "blocking.done_one": "Customer blocked: 1 message of theirs left the queue.",
  "blocking.done": "Customer blocked: {count} messages of theirs left the queue.",
  "blocking.undone": "Customer unblocked: their next messages enter the queue.",
  "closing.reason.blocked": "Customer blocked",
  "closing.short.blocked": "customer blocked",
  "closing.history_blocked": "customer blocked",
});

const blocking = (() => {
  // The customer as GET /operator/clients/{id} read them (null: not a channel customer),
  // whether the confirmation is open, and the last outcome, for the open message's customer.
  const view = { client: null, customer: null, asking: false, status: null };

  async function load(message) {
    if (view.client !== message.client_id) {
      Object.assign(view, { client: message.client_id, customer: null, asking: false, status: null });
    }
    if (message.channel === "rest") { // an integrator's client: theirs to stop, not ours
      view.customer = null;
      return;
    }
    try {
      view.customer = await api("GET", `/operator/clients/${message.client_id}`);
    } catch (exc) {
      view.customer = null; // unreadable: nothing to block from here
    }
  }

  function section(message) {
    const customer = view.client === message.client_id ? view.customer : null;
    if (!customer) return null;
    const name = customer.name || t("blocking.someone");
    const status = view.status && el("p", { class: `status-line small${view.status.error ? " error" : ""}`,
      id: "blocking-status", role: view.status.error ? "alert" : "status" }, view.status.text);
    if (customer.blocked_at) {
      return el("div", { class: "blocking blocked", id: "blocking" },
        el("p", { class: "small" }, t("blocking.state", { name: customer.blocked_by, time: when(customer.blocked_at) })),
        el("button", { type: "button", id: "unblock-customer", title: t("blocking.unblock_title"),
          onclick: () => change(message, "DELETE") }, t("blocking.unblock")),
        status);
    }
    if (view.asking) {
      return el("div", { class: "blocking asking", id: "blocking", role: "group" },
        el("p", { class: "small" }, t("blocking.confirm", { name })),
        el("button", { type: "button", class: "danger", id: "block-confirm",
          onclick: () => change(message, "PUT") }, t("blocking.confirm_yes")),
        el("button", { type: "button", id: "block-cancel", onclick: () => ask(false) }, t("blocking.confirm_no")),
        status);
    }
    return el("div", { class: "blocking", id: "blocking" },
      el("button", { type: "button", class: "danger", id: "block-customer", title: t("blocking.button_title"),
        onclick: () => ask(true) }, t("blocking.button")),
      status);
  }

  // Beside the customer's name: "bloqueado"; null when they are not.
  function badge(message) {
    const customer = view.client === message.client_id ? view.customer : null;
    if (!customer || !customer.blocked_at) return null;
    return el("span", { class: "badge blocked-badge", id: "blocked-badge" }, t("blocking.badge"));
  }

  function ask(on) {
    view.asking = on;
    view.status = null;
    renderDetail();
    (on ? $("block-cancel") : $("block-customer"))?.focus();
  }

  async function change(message, method) {
    for (const button of document.querySelectorAll("#blocking button")) button.disabled = true;
    try {
      const customer = await api(method, `/operator/clients/${message.client_id}/block`,
        { operator_name: state.operator || null });
      const closed = customer.closed_messages || [];
      view.status = { error: false, text: method === "DELETE" ? t("blocking.undone")
        : closed.length === 1 ? t("blocking.done_one") : t("blocking.done", { count: closed.length }) };
    } catch (exc) {
      const text = failed(exc, message.id);
      if (text === null) return;
      view.status = { error: true, text };
    }
    view.asking = false;
    await Promise.all([loadDetail(message.id), refreshQueue()]);
  }

  return { load, section, badge };
})();
