// Encerrar sem resposta: an operator takes a message out of the queue without answering it
// (a customer's "ok, obrigado!", spam, the same message twice), saying why, and can put it
// back with Reabrir (POST /operator/messages/{id}/close and /reopen). Nothing is sent to the
// customer either way. The choice of a reason opens under the actions, in the page.
// Once the customer got an answer to another message sent after this one, the choice also
// offers "answered together" (together.js closes a burst's lines that way as it answers).
// Loaded after console.js and its parts, whose STRINGS (strings.js), state, t, api, el, $, failed, showStatus,
// loadDetail, refreshQueue and clock it uses; the console (detail.js, mostly) calls closing.controls(message,
// elsewhere), .notice(message), .state(message), .turn(message), .label(message),
// .isClosed(message), .key() and .cancel().
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "closing.button": "Encerrar sem resposta",
  "closing.button_title": "Tirar da fila sem responder ao cliente: agradecimento, spam ou mensagem repetida (x)",
  "closing.ask": "Encerrar sem resposta, por quê?",
  "closing.reason.no_reply_needed": "Não precisa de resposta",
  "closing.reason.spam": "Spam",
  "closing.reason.duplicate": "Mensagem repetida",
  "closing.short.no_reply_needed": "não precisa de resposta",
  "closing.short.spam": "spam",
  "closing.short.duplicate": "mensagem repetida",
  "closing.reason.answered_together": "Já respondida em outra mensagem",
  "closing.short.answered_together": "respondida junto com outra mensagem",
  "closing.turn_together": "respondida junto com outra mensagem · por {name}",
  "closing.turn_together_anon": "respondida junto com outra mensagem",
  "closing.history_together": "respondida junto",
  "closing.notice_together": "Respondida junto com outra mensagem deste cliente: {name} a tirou da fila às {time}. Reabrir a devolve à fila.",
  "closing.notice_together_anon": "Respondida junto com outra mensagem deste cliente: saiu da fila às {time}. Reabrir a devolve à fila.",
  "closing.cancel": "Cancelar",
  "closing.note": "Nada é enviado ao cliente. Esc cancela.",
  "closing.reopen": "Reabrir",
  "closing.reopen_title": "Devolver à fila, no lugar de quando chegou, para responder (x)",
  "closing.working": "Encerrando…", "closing.reopening": "Reabrindo…",
  "closing.done": "Encerrada: {reason}. A tecla n abre a próxima livre.",
  "closing.reopened": "Reaberta: a mensagem voltou para a fila.",
  "closing.state": "encerrada por {name} ({reason})", "closing.state_anon": "encerrada ({reason})",
  "closing.turn": "encerrada sem resposta · {reason} · por {name}",
  "closing.turn_anon": "encerrada sem resposta · {reason}",
  "closing.history": "encerrada sem resposta",
  "closing.no_suggestion": "Nenhuma sugestão para esta mensagem.",
  "closing.notice": "Encerrada sem resposta por {name} às {time} ({reason}): saiu da fila e nada foi enviado ao cliente. Reabrir a devolve à fila.",
  "closing.notice_anon": "Encerrada sem resposta às {time} ({reason}): saiu da fila e nada foi enviado ao cliente. Reabrir a devolve à fila.",
  "help.closing": "encerrar sem resposta (escolher o motivo) / reabrir",
});

Object.assign(STRINGS.en, {
  "closing.button": "Close without reply",
  "closing.button_title": "Take it out of the queue without answering the customer: thanks, spam or a repeated message (x)",
  "closing.ask": "Close without reply: why?",
  "closing.reason.no_reply_needed": "No reply needed",
  "closing.reason.spam": "Spam",
  "closing.reason.duplicate": "Repeated message",
  "closing.short.no_reply_needed": "no reply needed",
  "closing.short.spam": "spam",
  "closing.short.duplicate": "repeated message",
  "closing.reason.answered_together": "Already answered in another message",
  "closing.short.answered_together": "answered together with another message",
  "closing.turn_together": "answered together with another message · by {name}",
  "closing.turn_together_anon": "answered together with another message",
  "closing.history_together": "answered together",
  "closing.notice_together": "Answered together with another message of this customer's: {name} took it out of the queue at {time}. Reopen puts it back in the queue.",
  "closing.notice_together_anon": "Answered together with another message of this customer's: it left the queue at {time}. Reopen puts it back in the queue.",
  "closing.cancel": "Cancel",
  "closing.note": "Nothing is sent to the customer. Esc cancels.",
  "closing.reopen": "Reopen",
  "closing.reopen_title": "Put it back in the queue, where it arrived, to answer it (x)",
  "closing.working": "Closing…", "closing.reopening": "Reopening…",
  "closing.done": "Closed: {reason}. The n key opens the next free one.",
  "closing.reopened": "Reopened: the message is back in the queue.",
  "closing.state": "closed by {name} ({reason})", "closing.state_anon": "closed ({reason})",
  "closing.turn": "closed without reply · {reason} · by {name}",
  "closing.turn_anon": "closed without reply · {reason}",
  "closing.history": "closed without reply",
  "closing.no_suggestion": "No suggestion for this message.",
  "closing.notice": "Closed without reply by {name} at {time} ({reason}): it left the queue and nothing was sent to the customer. Reopen puts it back in the queue.",
  "closing.notice_anon": "Closed without reply at {time} ({reason}): it left the queue and nothing was sent to the customer. Reopen puts it back in the queue.",
  "help.closing": "close without reply (choose why) / reopen",
});

const closing = (() => {
  const REASONS = ["no_reply_needed", "spam", "duplicate"];
  const TOGETHER = "answered_together";
  // The message whose choice of a reason is open (it stays open across live re-renders).
  const view = { asking: null };

  const isClosed = (message) => Boolean(message.closed_at);
  const together = (message) => message.close_reason === TOGETHER;
  // Whether the history the detail read shows an answer to another of the customer's
  // messages sent after this one arrived: the API's own rule for answered_together.
  const answeredSince = (message) => ((state.detail && state.detail.history && state.detail.history.items) || [])
    .some((m) => m.id !== message.id && m.answered_at && new Date(m.answered_at) >= new Date(message.created_at));
  const reasonName = (reason) => t(`closing.short.${reason}`);

  // The answer buttons' own rule (renderDetail's): not for a message a person answered,
  // nor for one another operator holds. The API refuses both (409).
  const refused = (message, elsewhere) => message.validated_by === "human" || elsewhere;

  // {button, choice} for the detail being drawn: Encerrar sem resposta (Reabrir, once
  // closed) for the actions row, and the reasons to choose from under it, if asked.
  function controls(message, elsewhere) {
    // Asked for this message only, while it can be closed: another one drawn forgets it.
    if (view.asking !== message.id || isClosed(message) || refused(message, elsewhere)) view.asking = null;
    if (isClosed(message)) {
      return {
        button: el("button", { type: "button", id: "reopen-message", title: t("closing.reopen_title"),
          onclick: () => reopen(message.id) }, t("closing.reopen")),
        choice: null,
      };
    }
    const asking = view.asking === message.id;
    // The page is redrawn on every live event: the reason that had the focus keeps it.
    const active = document.activeElement;
    const focused = active?.closest?.("#close-choice") ? active.dataset.choice : null;
    const choice = asking ? choiceNode(message) : null;
    if (choice && focused) {
      queueMicrotask(() => choice.querySelector(`[data-choice="${focused}"]`)?.focus());
    }
    return {
      button: el("button", { type: "button", id: "close-without-reply", title: t("closing.button_title"),
        disabled: refused(message, elsewhere), "aria-expanded": String(asking),
        onclick: () => (view.asking === message.id && $("close-choice") ? cancel() : ask()) },
      t("closing.button")),
      choice,
    };
  }

  function choiceNode(message) {
    const id = message.id;
    const reasons = answeredSince(message) ? [TOGETHER, ...REASONS] : REASONS;
    return el("div", { id: "close-choice", class: "close-choice", role: "group",
      "aria-labelledby": "close-choice-title", onkeydown: onChoiceKey },
    el("p", { id: "close-choice-title", class: "close-choice-title" }, t("closing.ask")),
    el("div", { class: "close-choice-buttons" },
      reasons.map((reason) => el("button", { type: "button", class: "close-reason", "data-choice": reason,
        onclick: () => close(id, reason) }, t(`closing.reason.${reason}`))),
      el("button", { type: "button", class: "close-cancel", "data-choice": "cancel", onclick: () => cancel() },
        t("closing.cancel"))),
    el("p", { class: "muted small close-choice-note" }, t("closing.note")));
  }

  // Left and right move between the choices (Esc is onKey's: it calls cancel()).
  function onChoiceKey(event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const buttons = [...event.currentTarget.querySelectorAll("button")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    buttons[(at + (event.key === "ArrowRight" ? 1 : buttons.length - 1)) % buttons.length].focus();
  }

  // Opens the choice under the actions, the first reason focused (Enter takes it).
  function ask() {
    const message = state.view === "message" ? state.detail?.message : null;
    const button = $("close-without-reply");
    if (!message || !button || button.disabled) return;
    view.asking = message.id;
    $("close-choice")?.remove();
    const choice = choiceNode(message);
    button.closest(".actions").after(choice);
    button.setAttribute("aria-expanded", "true");
    choice.querySelector(".close-reason").focus();
  }

  // Closes the choice, if it is open; false if there was none (Esc then does something else).
  function cancel() {
    const node = $("close-choice");
    view.asking = null;
    if (!node) return false;
    const inside = node.contains(document.activeElement);
    node.remove();
    const button = $("close-without-reply");
    button?.setAttribute("aria-expanded", "false");
    if (inside) button?.focus();
    return true;
  }

  // `x`: like `t`, what the button in its place does: asks why, or reopens once closed.
  function key() {
    const reopenButton = $("reopen-message");
    if (reopenButton) {
      if (!reopenButton.disabled) reopen(state.selected);
    } else if (!cancel()) ask();
  }

  // One call, said like the other actions: under the actions, the page refreshed after,
  // whatever came of it (a 409 shows why, and what changed meanwhile).
  async function send(id, action, body, working, done) {
    for (const button of document.querySelectorAll("#detail button")) button.disabled = true;
    showStatus(id, working);
    try {
      await api("POST", `/operator/messages/${id}/${action}`, body);
      showStatus(id, done);
    } catch (exc) {
      const line = failed(exc, id);
      if (line === null) return;
      showStatus(id, line, true);
    }
    await Promise.all([loadDetail(id), refreshQueue()]);
  }

  function close(id, reason) {
    view.asking = null;
    return send(id, "close", { reason, operator_name: state.operator || null },
      t("closing.working"), t("closing.done", { reason: reasonName(reason) }));
  }

  function reopen(id) {
    return send(id, "reopen", { operator_name: state.operator || null },
      t("closing.reopening"), t("closing.reopened"));
  }

  // The message's state, in its detail: "encerrada por Ana (spam)"; null while open.
  function stateText(message) {
    if (!isClosed(message)) return null;
    const reason = reasonName(message.close_reason);
    return message.closed_by ? t("closing.state", { name: message.closed_by, reason })
      : t("closing.state_anon", { reason });
  }

  // Atop the detail, as for a message another operator holds; null while open.
  function notice(message) {
    if (!isClosed(message)) return null;
    const values = {
      name: message.closed_by, time: clock(message.closed_at), reason: reasonName(message.close_reason),
    };
    const key = together(message) ? "closing.notice_together" : "closing.notice";
    return el("p", { class: "notice closed-notice", id: "closed-notice", role: "status" },
      t(message.closed_by ? key : `${key}_anon`, values));
  }

  // What the customer's history says of it: "encerrada sem resposta" or "respondida junto".
  const label = (message) => t(together(message) ? "closing.history_together"
    : message.close_reason === "blocked" ? "closing.history_blocked" : "closing.history");

  // Where the answer would be, in the conversation; null while open.
  function turn(message) {
    if (!isClosed(message)) return null;
    const reason = reasonName(message.close_reason);
    const key = together(message) ? "closing.turn_together" : "closing.turn";
    return el("div", { class: "bubble none muted small closed-turn" },
      t(message.closed_by ? key : `${key}_anon`, { name: message.closed_by, reason }));
  }

  return { controls, key, cancel, notice, turn, label, state: stateText, isClosed };
})();
