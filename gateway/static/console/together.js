// Respondidas junto: customers on Telegram and WhatsApp write in bursts ("oi", "bom dia",
// "meu pix não caiu"), and each line is a message in the queue. The detail lists the
// customer's other messages still waiting, under theirs; those the operator ticks leave the
// queue as answered together with the answer to this one, in its own call (`together` in
// POST /operator/messages/{id}/approve), so they leave if and only if the answer is
// recorded. The queue marks a customer's lines.
// Loaded after console.js and its parts, whose STRINGS (strings.js), state, t, api, el, clock and isMine it uses;
// the console (detail.js, mostly) calls together.load(message) (in loadDetail),
// .section(message, canAnswer), .badge(message), .key() (`b`), .take(id) as an answer is
// sent, .said(answered) once it went, and .restore(id, ticked) when its sending is undone.
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "together.title": "Também esperando deste cliente ({count})",
  "together.hint": "Marque as que esta resposta também responde (b marca todas): ao enviá-la, saem da fila como respondidas junto. Nada a mais é enviado ao cliente.",
  "together.line": "#{id} · {time}",
  "together.held": "com {name}",
  "together.tick": "Responder junto a mensagem #{id}",
  "together.badge": "+{count} deste cliente",
  "together.badge_title": "Este cliente tem {total} mensagens nesta fila",
  "together.done_one": "A outra mensagem marcada saiu da fila (respondida junto).",
  "together.done": "As {count} outras mensagens marcadas saíram da fila (respondidas junto).",
  "together.failed": "A mensagem #{id} não foi encerrada: {message}.",
  "help.together": "marcar / desmarcar as outras mensagens do cliente, para responder junto",
});

Object.assign(STRINGS.en, {
  "together.title": "Also waiting from this customer ({count})",
  "together.hint": "Tick those this answer also answers (b ticks them all): once it is sent, they leave the queue as answered together. Nothing more is sent to the customer.",
  "together.line": "#{id} · {time}",
  "together.held": "with {name}",
  "together.tick": "Answer message #{id} together",
  "together.badge": "+{count} from this customer",
  "together.badge_title": "This customer has {total} messages in this queue",
  "together.done_one": "The other ticked message left the queue (answered together).",
  "together.done": "The {count} other ticked messages left the queue (answered together).",
  "together.failed": "Message #{id} was not closed: {message}.",
  "help.together": "tick / untick the customer's other messages, to answer them together",
});

const together = (() => {
  // The ticked messages, for the message whose detail ticked them; kept across the live
  // re-renders, forgotten when another message is opened.
  const view = { id: null, ticked: new Set() };

  // The customer's messages in the queue, every sector's, oldest first (GET
  // /operator/queue?client_id=), read with the detail: a long burst has more lines than
  // the history's latest ten.
  const queued = { client: null, items: null };
  const waiting = (m) => m.validated_by !== "human" && !m.closed_at;
  const heldElsewhere = (m) => Boolean(m.assigned_to) && !isMine(m);

  async function load(message) {
    const client = message.client_id;
    let items = null;
    try {
      const path = `/operator/queue?client_id=${encodeURIComponent(client)}&per_page=100`;
      items = (await api("GET", path)).items;
    } catch (exc) {
      items = null; // unreadable: the history's lines stand in
    }
    Object.assign(queued, { client, items });
  }

  // The customer's other messages waiting for an answer, oldest first.
  function others(message) {
    const history = (state.detail && state.detail.history && state.detail.history.items) || [];
    const items = queued.client === message.client_id && queued.items
      ? queued.items : [...history].reverse();
    return items.filter((m) => m.id !== message.id && waiting(m));
  }

  // Under the customer's message; null when nothing else of theirs waits. The boxes are
  // there to tick only while this message can be answered from this page.
  function section(message, canAnswer) {
    if (view.id !== message.id) Object.assign(view, { id: message.id, ticked: new Set() });
    const lines = others(message);
    const open = new Set(lines.filter((m) => !heldElsewhere(m)).map((m) => m.id));
    view.ticked = new Set([...view.ticked].filter((id) => open.has(id)));
    if (!lines.length) return null;
    return el("section", { id: "together", class: "together", "aria-labelledby": "together-title" },
      el("h3", { id: "together-title" }, t("together.title", { count: lines.length })),
      canAnswer ? el("p", { class: "muted small" }, t("together.hint")) : null,
      el("ul", { class: "together-list" }, lines.map((m) => el("li", { "data-id": m.id },
        el("label", {},
          canAnswer ? el("input", { type: "checkbox", class: "together-tick", id: `together-tick-${m.id}`,
            value: String(m.id),
            "aria-label": t("together.tick", { id: m.id }), disabled: !open.has(m.id),
            checked: view.ticked.has(m.id),
            onchange: (event) => tick(m.id, event.target.checked) }) : null,
          el("span", { class: "when" }, t("together.line", { id: m.id, time: clock(m.created_at) }),
            heldElsewhere(m) ? ` · ${t("together.held", { name: m.assigned_to })}` : ""),
          el("span", { class: "together-text" }, m.message))))));
  }

  function tick(id, on) {
    if (on) view.ticked.add(id);
    else view.ticked.delete(id);
  }

  // `b`: ticks every line that can be ticked, or, when they all are, unticks them.
  function key() {
    const boxes = [...document.querySelectorAll("#together .together-tick:not([disabled])")];
    if (!boxes.length) return;
    const on = boxes.some((box) => !box.checked);
    for (const box of boxes) {
      box.checked = on;
      tick(Number(box.value), on);
    }
  }

  // In the queue, by each message of a customer who has more than one listed there.
  function badge(message) {
    const total = state.items.filter((m) => m.client_id === message.client_id).length;
    if (total < 2) return null;
    return el("span", { class: "badge together-badge", title: t("together.badge_title", { total }) },
      t("together.badge", { count: total - 1 }));
  }

  // The lines ticked beside `id`, as its answer is sent; the ticks are cleared.
  function take(id) {
    const ticked = view.id === id ? [...view.ticked] : [];
    view.ticked = new Set();
    return ticked;
  }

  // Ticks them again: the answer's sending was undone (sending.js).
  function restore(id, ticked) {
    Object.assign(view, { id, ticked: new Set(ticked) });
  }

  // What became of the lines the answer named (its call closed them, or said why not:
  // someone else took one meanwhile), as {text, error} for the status line; null when none
  // was ticked.
  function said(answered) {
    const outcomes = (answered && answered.together) || [];
    if (!outcomes.length) return null;
    const done = outcomes.filter((o) => o.closed).length;
    const lines = done === 0 ? [] : [done === 1 ? t("together.done_one") : t("together.done", { count: done })];
    for (const o of outcomes) {
      if (!o.closed) lines.push(t("together.failed", { id: o.id, message: o.reason }));
    }
    return { text: lines.join(" "), error: done < outcomes.length };
  }

  return { load, section, badge, take, restore, said, key };
})();
