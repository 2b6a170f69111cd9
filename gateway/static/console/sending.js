// Desfazer envio: an answer the operator sends (Aprovar, Editar e aprovar, Responder) waits
// a few seconds in this page before it goes to the gateway, and `z`, or Desfazer in the
// bar at the foot of the page, takes it back: a stray `a` never reaches a customer.
// Nothing is held on the server, so nothing there has to be undone: the approval, its
// review, its delivery and the lines answered together happen only once the wait is over.
// Leaving the page (a reload, closing the tab, signing out) sends what waits at once: an
// answer the operator sent is never lost by leaving. The wait is this browser's choice
// (none, 5, 10, 20 or 30 s; 5 by default), made in the keys' help and kept in localStorage.
// Loaded after console.js and detail.js, whose state, t, el, announce, showStatus, select,
// call and run it uses; the console calls sending.hold(), .isHeld(id), .text(id),
// .control(message), .undo() (`z`) and .flush().
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "sending.held": "Sai em {seconds} s. Para desfazer: z, ou Desfazer.",
  "sending.said": "A resposta à mensagem #{id} sai em {seconds} s. A tecla z desfaz.",
  "sending.line": "Resposta à mensagem #{id} sai em {seconds} s",
  "sending.undo": "Desfazer",
  "sending.undo_id": "Desfazer o envio da resposta à mensagem #{id}",
  "sending.undo_detail": "Desfazer envio (z)",
  "sending.undone": "Envio desfeito: nada foi enviado ao cliente.",
  "sending.undone_said": "Envio da resposta à mensagem #{id} desfeito. Nada foi enviado.",
  "sending.failed": "A resposta à mensagem #{id} não foi enviada: {message}",
  "sending.open": "Abrir",
  "sending.open_id": "Abrir a mensagem #{id}",
  "sending.dismiss": "Dispensar",
  "sending.choice": "Tempo para desfazer um envio",
  "sending.none": "nenhum (envia na hora)",
  "sending.seconds": "{seconds} s",
  "help.undo": "desfazer o último envio, enquanto ele espera",
  "help.sending_title": "Ao enviar",
});

Object.assign(STRINGS.en, {
  "sending.held": "Goes in {seconds} s. To undo: z, or Undo.",
  "sending.said": "The answer to message #{id} goes in {seconds} s. The z key undoes it.",
  "sending.line": "Answer to message #{id} goes in {seconds} s",
  "sending.undo": "Undo",
  "sending.undo_id": "Undo sending the answer to message #{id}",
  "sending.undo_detail": "Undo sending (z)",
  "sending.undone": "Sending undone: nothing was sent to the customer.",
  "sending.undone_said": "Sending of the answer to message #{id} undone. Nothing was sent.",
  "sending.failed": "The answer to message #{id} was not sent: {message}",
  "sending.open": "Open",
  "sending.open_id": "Open message #{id}",
  "sending.dismiss": "Dismiss",
  "sending.choice": "Time to undo a sending",
  "sending.none": "none (sends at once)",
  "sending.seconds": "{seconds} s",
  "help.undo": "undo the last sending, while it waits",
  "help.sending_title": "When sending",
});

const sending = (() => {
  const STORE_WAIT = "atende.console.undo_seconds";
  const CHOICES = [0, 5, 10, 20, 30];
  const stored = localStorage.getItem(STORE_WAIT);
  let wait = stored !== null && CHOICES.includes(Number(stored)) ? Number(stored) : 5;
  // id -> {id, action, input, due, timer, going}: the answers waiting, in the order
  // sent; `going` once the wait is over and the call is on its way. Until that call and the
  // queue read after it are done, the message stays out of the queue: a read that started
  // before the approval would otherwise list it again, for `n` to open.
  const held = new Map();
  // {id, text}: answers that did not go, said in the bar until opened or dismissed.
  const failures = [];
  let ticker = null;

  const isHeld = (id) => held.has(id);
  const left = (entry) => Math.max(0, Math.ceil((entry.due - Date.now()) / 1000));
  // What the operator sent, shown in the answer box while it waits.
  const text = (id) => {
    const entry = held.get(id);
    return entry && entry.action !== "approve" ? entry.input.text : null;
  };

  function hold(id, action, input) {
    if (wait === 0) return send({ id, action, input });
    const entry = { id, action, input, due: Date.now() + wait * 1000 };
    entry.timer = setTimeout(() => send(entry), wait * 1000);
    held.set(id, entry);
    showStatus(id, t("sending.held", { seconds: wait }));
    announce(t("sending.said", { id, seconds: wait }));
    renderQueue(); // it leaves the queue now, as it will once sent
    redrawIfOpen(id);
    drawBar();
    return null;
  }

  async function send(entry) {
    clearTimeout(entry.timer);
    entry.going = true;
    held.set(entry.id, entry);
    drawBar();
    let error;
    try {
      error = await run(entry.id, entry.action, entry.input);
    } finally {
      held.delete(entry.id);
    }
    if (error && (state.selected !== entry.id || state.view !== "message")) {
      failures.push({ id: entry.id, text: t("sending.failed", { id: entry.id, message: error }) });
    }
    drawBar();
    renderQueue(); // back in it if it did not go
    redrawIfOpen(entry.id);
  }

  function redrawIfOpen(id) {
    if (state.view === "message" && state.detail && state.detail.message.id === id) renderDetail();
  }

  const waiting = () => [...held.values()].filter((entry) => !entry.going);

  // Takes back the latest answer waiting (or `id`'s), and opens its message as it was:
  // the text typed, the lines ticked beside it.
  function undo(id) {
    const entry = id === undefined ? waiting().pop() : held.get(id);
    if (!entry || entry.going) return false;
    clearTimeout(entry.timer);
    held.delete(entry.id);
    if (state.selected !== entry.id || state.view !== "message") {
      Object.assign(state, { selected: entry.id, view: "message", detail: null });
    }
    if (entry.action !== "approve") state.draft = { id: entry.id, text: entry.input.text };
    together.restore(entry.id, entry.input.ticked);
    state.status = { id: entry.id, text: t("sending.undone"), error: false };
    keepPlace();
    renderQueue();
    drawBar();
    announce(t("sending.undone_said", { id: entry.id }));
    loadDetail(entry.id).then(() => {
      const box = $("answer");
      if (state.selected === entry.id && entry.action !== "approve" && box && !box.disabled) box.focus();
    });
    return true;
  }

  // The page is going (a reload, the tab closed, signing out): what waits goes now, in
  // requests that outlive the page, each closing the lines ticked beside it as it goes.
  function flush() {
    for (const entry of waiting()) {
      clearTimeout(entry.timer);
      held.delete(entry.id);
      call(entry.action, entry.id, entry.input, { keepalive: true }).catch(() => {});
      if (state.draft && state.draft.id === entry.id) state.draft = null; // it went
    }
    keepPlace();
    drawBar();
  }

  // In the detail of a message whose answer waits: its own Desfazer.
  function control(message) {
    if (!held.has(message.id) || held.get(message.id).going) return null;
    return el("button", { type: "button", id: "undo-send", onclick: () => undo(message.id) },
      t("sending.undo_detail"));
  }

  // The bar at the foot of the page: every answer waiting, with the seconds it has left,
  // and the answers that did not go. Drawn anew only when what it lists changes (the
  // focus stays on its buttons); the seconds are written in place.
  function drawBar() {
    const bar = $("sending-bar");
    const lines = waiting();
    bar.replaceChildren(
      ...lines.map((entry) => el("p", { class: "sending-line", "data-id": entry.id },
        el("span", { class: "sending-left" }, t("sending.line", { id: entry.id, seconds: left(entry) })),
        el("button", { type: "button", class: "undo", "aria-label": t("sending.undo_id", { id: entry.id }),
          onclick: () => undo(entry.id) }, t("sending.undo")))),
      ...failures.map((failure) => el("p", { class: "sending-line error", role: "alert" },
        el("span", {}, failure.text),
        el("button", { type: "button", "aria-label": t("sending.open_id", { id: failure.id }),
          onclick: () => { dismiss(failure); select(failure.id); } }, t("sending.open")),
        el("button", { type: "button", onclick: () => dismiss(failure) }, t("sending.dismiss")))));
    bar.hidden = !lines.length && !failures.length;
    // Room under the queue and the page for the bar, so that it covers none of their lines.
    const room = bar.hidden ? 0 : bar.offsetHeight + 16;
    document.documentElement.style.setProperty("--sending-room", `${room}px`);
    clearInterval(ticker);
    ticker = lines.length ? setInterval(tick, 250) : null;
  }

  function tick() {
    for (const entry of waiting()) {
      const line = document.querySelector(`#sending-bar .sending-line[data-id="${entry.id}"] .sending-left`);
      if (line) line.textContent = t("sending.line", { id: entry.id, seconds: left(entry) });
    }
  }

  function dismiss(failure) {
    failures.splice(failures.indexOf(failure), 1);
    drawBar();
  }

  // The wait's choice, in the keys' help.
  function setUp() {
    const choice = $("undo-seconds");
    choice.replaceChildren(...CHOICES.map((seconds) => el("option", { value: String(seconds) },
      seconds ? t("sending.seconds", { seconds }) : t("sending.none"))));
    choice.value = String(wait);
    choice.addEventListener("change", () => {
      wait = Number(choice.value);
      localStorage.setItem(STORE_WAIT, String(wait));
    });
    window.addEventListener("pagehide", flush);
  }

  return { hold, isHeld, text, undo, flush, control, setUp };
})();
