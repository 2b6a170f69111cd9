// Notas internas: what operators on different shifts tell each other about a customer, who
// must never see it ("já mandou o comprovante duas vezes", "pediu para ligar depois das 18h").
// A note belongs to the customer, not to one message (GET and POST
// /operator/clients/{client_id}/notes, DELETE /operator/notes/{id}): the section under the
// customer's history lists theirs, newest first, with a box to add one; only a note's author
// (or an admin, through the API) deletes it. A count beside the customer's name says at a
// glance that there are notes. The live feed does not carry notes: they are read anew each
// time the message's detail loads, after adding or deleting one, and, for a colleague's
// added or deleted elsewhere, every POLL_MS while the page is in view and when it comes
// back into view.
// Loaded after console.js and its parts, whose STRINGS (strings.js), state, t, api, el, $, fill, failed, sayIn and when it
// uses; the console (detail.js, mostly) calls notes.load(message) (in loadDetail), .count(message),
// .section(message) (in renderDetail) and .focus() (the `o` key).
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "notes.title": "Notas internas",
  "notes.hint": "só os operadores veem",
  "notes.loading": "carregando…",
  "notes.empty": "Nenhuma nota sobre este cliente.",
  "notes.label": "Nova nota interna sobre o cliente",
  "notes.placeholder": "O que os colegas devem saber sobre este cliente (ele não vê)…",
  "notes.add": "Adicionar nota",
  "notes.add_title": "Adicionar a nota para os outros operadores (Ctrl+Enter)",
  "notes.keys": "Ctrl+Enter adiciona. O cliente nunca vê as notas.",
  "notes.adding": "Adicionando…",
  "notes.added": "Nota adicionada: os outros operadores a veem em até 15 segundos.",
  "notes.by": "{author} · {time}",
  "notes.by_me": "você ({author}) · {time}",
  "notes.delete": "Apagar",
  "notes.delete_title": "Apagar esta nota",
  "notes.confirm": "Apagar esta nota para todos os operadores?",
  "notes.confirm_yes": "Apagar", "notes.confirm_no": "Cancelar",
  "notes.deleted": "Nota apagada.",
  "notes.count_one": "1 nota", "notes.count": "{count} notas",
  "notes.count_title": "Notas internas sobre este cliente: só os operadores veem (o)",
  "notes.write_first": "Escreva a nota antes de adicionar.",
  "notes.too_long": "A nota passa de {max} caracteres (tem {length}): encurte-a.",
  "notes.not_author": "Só quem escreveu esta nota (ou um administrador) pode apagá-la.",
  "notes.gone": "Esta nota já não existe: foi apagada.",
  "notes.no_client": "Este cliente não existe mais: a nota não foi salva.",
  "notes.unreadable": "Não foi possível ler as notas: {message}.",
  "help.notes": "escrever uma nota interna sobre o cliente (só os operadores veem)",
});

Object.assign(STRINGS.en, {
  "notes.title": "Internal notes",
  "notes.hint": "only operators see them",
  "notes.loading": "loading…",
  "notes.empty": "No notes about this customer.",
  "notes.label": "New internal note about the customer",
  "notes.placeholder": "What colleagues should know about this customer (they never see it)…",
  "notes.add": "Add note",
  "notes.add_title": "Add the note for the other operators (Ctrl+Enter)",
  "notes.keys": "Ctrl+Enter adds it. The customer never sees notes.",
  "notes.adding": "Adding…",
  "notes.added": "Note added: the other operators see it within 15 seconds.",
  "notes.by": "{author} · {time}",
  "notes.by_me": "you ({author}) · {time}",
  "notes.delete": "Delete",
  "notes.delete_title": "Delete this note",
  "notes.confirm": "Delete this note for every operator?",
  "notes.confirm_yes": "Delete", "notes.confirm_no": "Cancel",
  "notes.deleted": "Note deleted.",
  "notes.count_one": "1 note", "notes.count": "{count} notes",
  "notes.count_title": "Internal notes about this customer: only operators see them (o)",
  "notes.write_first": "Write the note before adding it.",
  "notes.too_long": "The note is longer than {max} characters ({length}): shorten it.",
  "notes.not_author": "Only whoever wrote this note (or an admin) may delete it.",
  "notes.gone": "This note no longer exists: it was deleted.",
  "notes.no_client": "This customer no longer exists: the note was not saved.",
  "notes.unreadable": "Could not read the notes: {message}.",
  "help.notes": "write an internal note about the customer (only operators see it)",
});

const notes = (() => {
  // The API's limit (the server decides; this only words its refusal).
  const MAX_LENGTH = 2000;
  // How often the open customer's notes are read again (the feed carries none): a note a
  // colleague adds while both have the customer open reaches this page within it.
  const POLL_MS = 15_000;
  const view = {
    node: null,      // the section: one node, kept across the detail's re-renders, so the
                     // note being typed and where the focus is survive live events
    list: null,      // the notes
    box: null,       // the new note's textarea
    add: null,       // Adicionar nota
    error: null,     // what is wrong with the note in the box, by the box
    status: null,    // the section's own status line (added, deleted, refused)
    badge: null,     // the count beside the customer's name, kept likewise
    key: null,       // `${key}:${client_id}`: the customer the section serves
    client: null,    // their client_id
    read: null,      // {key, items, problem}: the last read's outcome
    reading: 0,      // counts the reads: only the latest one's answer is shown
    confirm: null,   // the id of the note whose deletion waits for a confirmation
    fresh: null,     // the id of the note just added, highlighted once
    busy: false,     // an add under way (one at a time: a note is never sent twice)
    drafts: new Map(), // key -> what was typed for another customer, until they are back
  };

  const keyOf = (message) => `${state.key}:${message.client_id}`;
  const mine = (note) => Boolean(state.me) && note.author === state.me;
  const items = () => (view.read && view.read.key === view.key ? view.read.items : null);

  function build() {
    view.list = el("ul", { id: "notes-list", class: "notes-list" });
    view.box = el("textarea", {
      id: "note-text", class: "note-box", rows: "2", "aria-label": t("notes.label"),
      placeholder: t("notes.placeholder"), "aria-describedby": "note-error notes-keys",
      onkeydown: onBoxKey, oninput: () => showError(""),
    });
    view.error = el("p", { id: "note-error", class: "field-error small", role: "alert", hidden: true });
    view.add = el("button", { type: "submit", id: "note-add", title: t("notes.add_title") }, t("notes.add"));
    view.status = el("p", { id: "notes-status", class: "status-line small", role: "status", hidden: true });
    view.node = el("section", { id: "notes", class: "notes", "aria-labelledby": "notes-title", onkeydown: onKey },
      el("div", { class: "notes-head" },
        el("h3", { id: "notes-title" }, t("notes.title")),
        el("span", { class: "muted small notes-hint" }, t("notes.hint"))),
      view.list,
      view.status,
      el("form", { id: "notes-form", class: "notes-form", novalidate: true, onsubmit: add },
        view.box, view.error,
        el("div", { class: "notes-form-actions" }, view.add,
          el("span", { id: "notes-keys", class: "muted small" }, t("notes.keys")))));
    view.badge = el("button", {
      type: "button", id: "notes-count", class: "badge notes-count", title: t("notes.count_title"),
      hidden: true, onclick: () => focus(),
    });
  }

  // The section and the count serve `message`'s customer: the same nodes as before for the
  // same customer (the detail is redrawn on every live event); for another, what was typed
  // is kept aside and theirs is put back.
  function bind(message) {
    if (!view.node) build();
    const key = keyOf(message);
    if (view.key === key) return;
    if (view.key !== null && view.box.value) view.drafts.set(view.key, view.box.value);
    view.key = key;
    view.client = message.client_id;
    view.box.value = view.drafts.get(key) || "";
    view.drafts.delete(key);
    Object.assign(view, { confirm: null, fresh: null });
    showError("");
    say("");
    render();
  }

  // Reads the customer's notes (loadDetail waits for it, so the detail is drawn with them).
  // Never fails: what went wrong is said in the section.
  async function load(message) {
    if (state.selected !== message.id) return; // an event for a message no longer open
    await read(message.client_id, keyOf(message));
  }

  async function read(client, key, { quiet = false } = {}) {
    const reading = ++view.reading;
    let outcome;
    try {
      const page = await api("GET", `/operator/clients/${client}/notes`);
      outcome = { key, items: page.items, problem: null };
    } catch (exc) {
      // A key that stopped working is the detail's to say (its own calls sign out).
      outcome = { key, items: null, problem: exc.status === 401 ? null : t("notes.unreadable", { message: exc.message }) };
    }
    if (reading !== view.reading) return; // a later read answers
    // A poll that found what is shown leaves the list as it is.
    const unchanged = quiet && view.read && view.read.key === key && !view.read.problem
      && JSON.stringify(view.read.items) === JSON.stringify(outcome.items);
    view.read = outcome;
    if (!unchanged && view.node && view.key === key) render();
  }

  // The customer shown in the detail, while the page is in view.
  function poll() {
    if (!view.client || !view.node?.isConnected || document.visibilityState !== "visible") return;
    read(view.client, view.key, { quiet: true });
  }
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", poll);

  function count(message) {
    bind(message);
    return view.badge;
  }

  // Moving the node to the new detail takes the focus from it: give it back after.
  function section(message) {
    bind(message);
    const focused = view.node.contains(document.activeElement) ? document.activeElement : null;
    if (focused) {
      const range = typeof focused.selectionStart === "number"
        ? [focused.selectionStart, focused.selectionEnd, focused.selectionDirection] : null;
      queueMicrotask(() => {
        if (!focused.isConnected) return;
        focused.focus({ preventScroll: true });
        if (range) focused.setSelectionRange(...range);
      });
    }
    return view.node;
  }

  function render() {
    const rows = items();
    const problem = view.read && view.read.key === view.key ? view.read.problem : null;
    view.list.toggleAttribute("aria-busy", rows === null && !problem);
    if (rows && !rows.some((note) => note.id === view.confirm)) view.confirm = null;
    let empty = null;
    if (rows === null) empty = problem || t("notes.loading");
    else if (!rows.length) empty = t("notes.empty");
    // A read after every live event redraws the list: the button that had the focus keeps it.
    const active = view.list.contains(document.activeElement) ? document.activeElement : null;
    const was = active && {
      id: active.closest("li")?.dataset.id, name: active.className.match(/note-[\w-]+/)?.[0],
    };
    fill(view.list, empty !== null
      ? el("li", { class: `notes-empty small ${problem ? "error" : "muted"}`, id: "notes-empty" }, empty)
      : rows.map(item));
    if (was?.id && was.name) view.list.querySelector(`li[data-id="${was.id}"] .${was.name}`)?.focus();
    view.fresh = null; // highlighted once
    const shown = rows ? rows.length : 0;
    view.badge.hidden = shown === 0;
    view.badge.textContent = shown === 1 ? t("notes.count_one") : t("notes.count", { count: shown });
  }

  function item(note) {
    const own = mine(note);
    const deletable = own || state.admin; // the API's rule: its author, or an admin
    const asking = deletable && view.confirm === note.id;
    return el("li", {
      class: ["note", own && "mine", view.fresh === note.id && "fresh"].filter(Boolean).join(" "),
      "data-id": note.id,
    },
    el("p", { class: "note-text" }, note.text),
    el("div", { class: "note-meta" },
      el("span", { class: "muted small note-by" },
        t(own ? "notes.by_me" : "notes.by", { author: note.author, time: when(note.created_at) })),
      deletable && !asking ? el("button", { type: "button", class: "danger note-delete",
        title: t("notes.delete_title"), onclick: () => askDelete(note.id) }, t("notes.delete")) : null),
    asking
      ? el("div", { class: "note-confirm", role: "group" },
        el("span", { class: "small" }, t("notes.confirm")),
        el("button", { type: "button", class: "danger note-confirm-yes", onclick: () => remove(note) },
          t("notes.confirm_yes")),
        el("button", { type: "button", class: "note-confirm-no", onclick: () => askDelete(null) },
          t("notes.confirm_no")))
      : null);
  }

  // Asks to confirm deleting note `id` in its row (null: asks no more).
  function askDelete(id) {
    const row = id ?? view.confirm;
    view.confirm = id;
    render();
    view.list.querySelector(`li[data-id="${row}"] ${id === null ? ".note-delete" : ".note-confirm-no"}`)
      ?.focus();
  }

  function say(text, error = false) {
    sayIn(view.status, text, error, " small");
    view.status.hidden = !text;
  }

  function showError(text) {
    view.error.textContent = text;
    view.error.hidden = !text;
    if (text) view.box.setAttribute("aria-invalid", "true");
    else view.box.removeAttribute("aria-invalid");
  }

  // Ctrl+Enter adds, as it sends in the answer box.
  function onBoxKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      add();
    }
  }

  // Esc, while a deletion waits for its confirmation, asks no more (and does nothing else).
  function onKey(event) {
    if (event.key === "Escape" && view.confirm !== null && !event.target.closest("textarea")) {
      event.preventDefault();
      event.stopPropagation();
      askDelete(null);
    }
  }

  // `o`: to the box, the section scrolled into view (only in a message's detail).
  function focus() {
    if (!view.node || !view.node.isConnected) return;
    view.node.scrollIntoView({ block: "nearest" });
    view.box.focus();
  }

  async function add(event) {
    event?.preventDefault();
    if (view.busy || !view.client) return;
    const text = view.box.value.trim();
    showError("");
    say("");
    if (!text) {
      showError(t("notes.write_first"));
      view.box.focus();
      return;
    }
    const { client, key } = view;
    view.busy = true;
    view.add.disabled = true;
    say(t("notes.adding"));
    let note;
    try {
      note = await api("POST", `/operator/clients/${client}/notes`, { text, operator_name: state.operator || null });
    } catch (exc) {
      if (view.key !== key) return; // another customer's now: nothing of theirs to say
      say("");
      if (exc.status === 401) failed(exc);
      else if (exc.status === 422 || exc.status === 400) {
        showError(text.length > MAX_LENGTH ? t("notes.too_long", { max: MAX_LENGTH, length: text.length })
          : t("error.invalid", { message: exc.message }));
        view.box.focus();
      } else if (exc.status === 404) say(t("notes.no_client"), true);
      else say(t("error.generic", { message: exc.message }), true);
      return;
    } finally {
      view.busy = false;
      view.add.disabled = false;
    }
    // The name the gateway records for us, if we signed in without one (as `take` tells).
    if (!state.me) state.me = note.author;
    if (view.key === key) {
      if (view.box.value.trim() === text) view.box.value = ""; // what was typed since is kept
      view.fresh = note.id;
      say(t("notes.added"));
    } else if ((view.drafts.get(key) || "").trim() === text) view.drafts.delete(key);
    await read(client, key);
  }

  async function remove(note) {
    const { client, key } = view;
    try {
      await api("DELETE", `/operator/notes/${note.id}`, { operator_name: state.operator || null });
      say(t("notes.deleted"));
    } catch (exc) {
      if (exc.status === 401) return void failed(exc);
      if (exc.status === 409) say(t("notes.not_author"), true);
      else if (exc.status === 404) say(t("notes.gone")); // already gone: nothing to undo
      else say(t("error.generic", { message: exc.message }), true);
    }
    view.confirm = null;
    await read(client, key);
    if (view.key === key && view.node.isConnected) view.box.focus({ preventScroll: true });
  }

  return { load, count, section, focus };
})();
