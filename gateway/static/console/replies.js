// Respostas prontas (saved replies): texts the operators keep for what customers often ask,
// for one sector or for every sector (GET, POST, PUT, DELETE /operator/replies). A panel
// beside the answer box lists those of the open message's sector and the general ones;
// choosing one puts its text in the answer box, to send with Responder or Editar e aprovar.
// Loaded after console.js and its parts, whose STRINGS (strings.js), state, t, api, $, fill, failed, keepPlace, sayIn and
// showStatus it uses; the console (detail.js, mostly) calls replies.button(), .panel(message), .open(), .close().
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "replies.button": "Respostas prontas",
  "replies.button_title": "Pôr uma resposta pronta no campo de resposta, ou salvar uma (p)",
  "replies.title": "Respostas prontas",
  "replies.new": "Salvar como resposta pronta",
  "replies.close": "Fechar (Esc)",
  "replies.filter": "Filtrar por título ou texto",
  "replies.keys": "↑ ↓ escolhem, Enter põe no campo de resposta, Esc fecha.",
  "replies.loading": "carregando…",
  "replies.none": "Nenhuma resposta pronta para {sector} ainda: salve a primeira com “Salvar como resposta pronta”.",
  "replies.no_match": "Nenhuma resposta pronta com “{filter}”.",
  "replies.all_sectors": "todos os setores",
  "replies.edit": "Editar", "replies.delete": "Apagar",
  "replies.edit_title": "Editar “{title}”", "replies.delete_title": "Apagar “{title}”",
  "replies.confirm": "Apagar “{title}” para todos os operadores?",
  "replies.confirm_yes": "Apagar", "replies.confirm_no": "Cancelar",
  "replies.form_new": "Nova resposta pronta", "replies.form_edit": "Editar resposta pronta",
  "replies.field_title": "Título", "replies.field_text": "Texto", "replies.field_sector": "Setor",
  "replies.save": "Salvar", "replies.cancel": "Cancelar",
  "replies.need_title": "Dê um título à resposta pronta.",
  "replies.need_text": "Escreva o texto da resposta pronta.",
  "replies.duplicate": "Já existe uma resposta pronta com esse título",
  "replies.created": "Resposta pronta “{title}” salva.",
  "replies.updated": "Resposta pronta “{title}” alterada.",
  "replies.deleted": "Resposta pronta “{title}” apagada.",
  "replies.gone": "Esta resposta pronta não existe mais: outro operador a apagou.",
  "replies.gone_form": "Esta resposta pronta foi apagada por outro operador: Salvar a cria de novo.",
  "replies.used": "Resposta pronta “{title}” no campo: ajuste se precisar e envie.",
  "replies.box_closed": "Esta mensagem não recebe resposta aqui agora: nada foi posto no campo.",
  "help.replies": "respostas prontas: pôr uma no campo de resposta, ou salvar uma",
});

Object.assign(STRINGS.en, {
  "replies.button": "Saved replies",
  "replies.button_title": "Put a saved reply in the answer box, or save one (p)",
  "replies.title": "Saved replies",
  "replies.new": "Save as a saved reply",
  "replies.close": "Close (Esc)",
  "replies.filter": "Filter by title or text",
  "replies.keys": "↑ ↓ choose, Enter puts it in the answer box, Esc closes.",
  "replies.loading": "loading…",
  "replies.none": "No saved reply for {sector} yet: save the first with “Save as a saved reply”.",
  "replies.no_match": "No saved reply with “{filter}”.",
  "replies.all_sectors": "all sectors",
  "replies.edit": "Edit", "replies.delete": "Delete",
  "replies.edit_title": "Edit “{title}”", "replies.delete_title": "Delete “{title}”",
  "replies.confirm": "Delete “{title}” for every operator?",
  "replies.confirm_yes": "Delete", "replies.confirm_no": "Cancel",
  "replies.form_new": "New saved reply", "replies.form_edit": "Edit saved reply",
  "replies.field_title": "Title", "replies.field_text": "Text", "replies.field_sector": "Sector",
  "replies.save": "Save", "replies.cancel": "Cancel",
  "replies.need_title": "Give the saved reply a title.",
  "replies.need_text": "Write the saved reply's text.",
  "replies.duplicate": "A saved reply with that title already exists",
  "replies.created": "Saved reply “{title}” saved.",
  "replies.updated": "Saved reply “{title}” changed.",
  "replies.deleted": "Saved reply “{title}” deleted.",
  "replies.gone": "This saved reply no longer exists: another operator deleted it.",
  "replies.gone_form": "Another operator deleted this saved reply: Save creates it again.",
  "replies.used": "Saved reply “{title}” is in the box: adjust it if needed, then send.",
  "replies.box_closed": "This message takes no answer here now: nothing was put in the box.",
  "help.replies": "saved replies: put one in the answer box, or save one",
});

const replies = (() => {
  const view = {
    node: null,      // the panel: one node, kept across the detail's re-renders, so what
                     // the operator types in it and where the focus is survive live events
    body: null,      // where the list, or the form, goes
    create: null,    // the button that opens the form for a new reply
    filter: null,    // the filter box
    list: null,      // the list of replies
    status: null,    // the panel's own status line
    message: null,   // {key, id, sector}: the message the panel serves
    open: false,
    items: null,     // the replies of the message's sector and the general ones (null: unread)
    unreadable: false, // the last read failed (the status line says why)
    reading: 0,      // counts the reads: only the latest one's answer is shown
    active: 0,       // the highlighted one among those the filter shows
    form: null,      // {id (null: a new one), node, fields...}: shown instead of the list
    confirm: null,   // the id of the reply whose deletion waits for a confirmation
    fresh: null,     // the id of the reply just saved, highlighted
    caret: null,     // {id, start, end, value}: the answer box's cursor when it lost the focus
  };

  // Accents and case aside: "horario" finds "Horário".
  const fold = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const sectorName = (sector) => sector || t("replies.all_sectors");

  function say(text, error = false) {
    sayIn(view.status, text, error, " small");
    view.status.hidden = !text;
  }

  // What a failed call says in the panel; a key that stopped working signs out (null).
  function problem(exc) {
    if (exc.status === 401) return failed(exc);
    if (exc.status === 404) return t("replies.gone");
    if (exc.status === 400 || exc.status === 422) return t("error.invalid", { message: exc.message });
    return t("error.generic", { message: exc.message });
  }

  function build() {
    view.filter = el("input", {
      id: "replies-filter", type: "search", autocomplete: "off", maxlength: "200",
      "aria-label": t("replies.filter"), placeholder: t("replies.filter"),
      "aria-controls": "replies-list", "aria-describedby": "replies-keys",
      oninput: () => { view.active = 0; renderList(); },
      onkeydown: onFilterKey,
    });
    view.list = el("ul", { id: "replies-list", class: "replies-list" });
    view.body = el("div", { class: "replies-body" });
    view.create = el("button", { type: "button", id: "replies-new", onclick: () => openForm(null) },
      t("replies.new"));
    view.status = el("p", { id: "replies-status", class: "status-line small", role: "status", hidden: true });
    view.node = el("section", {
      id: "replies-panel", class: "replies-panel", "aria-labelledby": "replies-title", hidden: true,
      onkeydown: onPanelKey,
    },
    el("div", { class: "replies-head" },
      el("h4", { id: "replies-title" }, t("replies.title")),
      view.create,
      el("button", { type: "button", id: "replies-close", class: "replies-x", title: t("replies.close"),
        "aria-label": t("replies.close"), onclick: () => close() }, "×")),
    view.body,
    view.status);
  }

  function reset() {
    Object.assign(view, { open: false, items: null, active: 0, form: null, confirm: null, fresh: null });
    view.reading += 1; // a read still under way is for another message
    view.list.removeAttribute("aria-busy");
    view.node.hidden = true;
    view.filter.value = "";
    say("");
    renderBody();
  }

  // The panel for the detail being drawn: the same node as before for the same message
  // (the detail is redrawn on every live event), a closed one for another.
  function panel(message) {
    if (!view.node) build();
    const key = `${state.key}:${message.id}`;
    if (!view.message || view.message.key !== key) {
      view.message = { key, id: message.id, sector: message.sector };
      reset();
    } else if (view.message.sector !== message.sector) { // transferred meanwhile
      view.message.sector = message.sector;
      view.items = null;
      if (view.open) load();
    }
    // Moving the node to the new detail takes the focus from it: give it back after.
    const focused = view.node.contains(document.activeElement) ? document.activeElement : null;
    if (focused) {
      const range = typeof focused.selectionStart === "number"
        ? [focused.selectionStart, focused.selectionEnd] : null;
      queueMicrotask(() => {
        if (!focused.isConnected) return;
        focused.focus();
        if (range) focused.setSelectionRange(...range);
      });
    }
    return view.node;
  }

  function button() {
    return el("button", {
      type: "button", id: "replies-button", title: t("replies.button_title"),
      "aria-controls": "replies-panel", "aria-expanded": String(view.open),
      onclick: () => (view.open ? close() : open()),
    }, t("replies.button"));
  }

  function showOpen() {
    view.node.hidden = !view.open;
    $("replies-button")?.setAttribute("aria-expanded", String(view.open));
  }

  // Opens the panel (or, open, goes back to its filter box) and reads the list anew:
  // other operators may have saved or changed replies since.
  function open() {
    if (!view.node || !view.message || !view.node.isConnected) return;
    if (!view.open) {
      view.open = true;
      view.filter.value = "";
      view.active = 0;
      say("");
      showOpen();
      load();
    }
    if (view.form) view.form.title.focus();
    else view.filter.focus();
  }

  function close(refocus = true) {
    if (!view.open) return false;
    const inside = view.node.contains(document.activeElement);
    view.open = false;
    view.confirm = null;
    showOpen();
    if (refocus && inside) $("replies-button")?.focus();
    return true;
  }

  // Reads the list; the reply just saved, if any, is the highlighted one.
  async function load() {
    const reading = ++view.reading;
    const sector = view.message.sector;
    view.unreadable = false;
    view.list.setAttribute("aria-busy", "true");
    renderList();
    try {
      const page = await api("GET", `/operator/replies${sector ? `?${new URLSearchParams({ sector })}` : ""}`);
      if (reading !== view.reading) return;
      view.items = page.items.map((reply) => ({ ...reply, folded: fold(`${reply.title}\n${reply.text}`) }));
    } catch (exc) {
      if (reading !== view.reading) return;
      view.unreadable = true;
      const line = problem(exc);
      if (line !== null) say(line, true);
    }
    view.list.removeAttribute("aria-busy");
    const fresh = shown().findIndex((reply) => reply.id === view.fresh);
    if (fresh >= 0) view.active = fresh;
    renderList();
    view.list.querySelector(".replies-item.active")?.scrollIntoView({ block: "nearest" });
  }

  const shown = () => {
    const words = fold(view.filter.value).split(/\s+/).filter(Boolean);
    return (view.items || []).filter((reply) => words.every((word) => reply.folded.includes(word)));
  };

  function renderBody() {
    view.create.hidden = Boolean(view.form); // one form at a time: what it holds is not lost
    if (view.form) fill(view.body, view.form.node);
    else {
      fill(view.body, view.filter, el("p", { class: "muted small replies-keys", id: "replies-keys" },
        t("replies.keys")), view.list);
      renderList();
    }
  }

  function renderList() {
    if (view.form) return;
    const items = shown();
    view.active = Math.min(Math.max(0, view.active), Math.max(0, items.length - 1));
    const filter = view.filter.value.trim();
    let empty = null;
    if (view.items === null) empty = view.unreadable ? null : t("replies.loading");
    else if (!items.length && filter) empty = t("replies.no_match", { filter });
    else if (!items.length) empty = t("replies.none", { sector: sectorName(view.message.sector) });
    fill(view.list, empty !== null ? el("li", { class: "muted small replies-empty" }, empty)
      : items.map((reply, at) => item(reply, at === view.active)));
    if (items.some((reply) => reply.id === view.fresh)) view.fresh = null; // highlighted once
  }

  function item(reply, active) {
    const asking = view.confirm === reply.id;
    return el("li", {
      class: ["replies-item", active && "active", view.fresh === reply.id && "fresh"].filter(Boolean).join(" "),
      "data-id": reply.id, "aria-current": active ? "true" : null,
    },
    el("button", { type: "button", class: "replies-use", title: reply.text, onclick: () => choose(reply) },
      el("span", { class: "replies-item-head" },
        el("strong", { class: "replies-item-title" }, reply.title),
        el("span", { class: "badge replies-sector" }, sectorName(reply.sector))),
      el("span", { class: "replies-preview" }, reply.text.replace(/\s+/g, " "))),
    asking
      ? el("div", { class: "replies-confirm", role: "group" },
        el("span", { class: "small" }, t("replies.confirm", { title: reply.title })),
        el("button", { type: "button", class: "danger replies-confirm-yes", onclick: () => remove(reply) },
          t("replies.confirm_yes")),
        el("button", { type: "button", class: "replies-confirm-no", onclick: () => askDelete(null) },
          t("replies.confirm_no")))
      : el("div", { class: "replies-item-actions" },
        el("button", { type: "button", class: "replies-edit", title: t("replies.edit_title", { title: reply.title }),
          onclick: () => openForm(reply) }, t("replies.edit")),
        el("button", { type: "button", class: "danger replies-delete",
          title: t("replies.delete_title", { title: reply.title }), onclick: () => askDelete(reply.id) },
        t("replies.delete"))));
  }

  // Asks to confirm deleting reply `id` in its row (null: asks no more).
  function askDelete(id) {
    const row = id ?? view.confirm;
    view.confirm = id;
    renderList();
    view.list.querySelector(`li[data-id="${row}"] ${id === null ? ".replies-delete" : ".replies-confirm-no"}`)
      ?.focus();
  }

  // Moving through the list from the filter box (or from a reply's button) with the arrows.
  function move(step) {
    const items = shown();
    if (!items.length) return;
    view.active = Math.min(items.length - 1, Math.max(0, view.active + step));
    renderList();
    view.list.querySelector(".replies-item.active")?.scrollIntoView({ block: "nearest" });
  }

  function onFilterKey(event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const reply = shown()[view.active];
      if (reply) choose(reply);
    }
  }

  // Keys inside the panel are the panel's: the arrows move in its list (not in the queue),
  // Esc leaves the form, or closes the panel.
  function onPanelKey(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      if (view.form) closeForm();
      else close();
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && !event.target.closest("form")) {
      event.stopPropagation();
      if (event.target.classList.contains("replies-use")) {
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
        view.list.querySelector(".replies-item.active .replies-use")?.focus();
      }
    }
  }

  // Where the operator left the cursor in the answer box: a reply goes there.
  document.addEventListener("focusout", (event) => {
    if (event.target.id !== "answer" || state.selected === null) return;
    const box = event.target;
    view.caret = { id: state.selected, start: box.selectionStart, end: box.selectionEnd, value: box.value };
  });

  // {nome} (or {name}) is the customer's first name, as their channel shows it, and
  // {operador} (or {operator}) the name the operator signed in with. One that is not known
  // goes with the comma or space before it ("Olá, {nome}!" becomes "Olá!"), so a customer
  // never reads a brace nor an empty greeting.
  function personal(text, message) {
    const known = {
      nome: (message.customer_name || "").trim().split(/\s+/)[0],
      operador: (state.operator || "").trim(),
    };
    known.name = known.nome;
    known.operator = known.operador;
    return text.replace(/(,\s*|[ \t]+)?\{(nome|name|operador|operator)\}(,[ \t]*)?/giu,
      (whole, before, name, after) => {
        const value = known[name.toLowerCase()];
        if (value) return `${before || ""}${value}${after || ""}`;
        return before ? after || "" : "";
      });
  }

  // The reply's text into the answer box: the whole text if the box is empty, else at the
  // cursor (the end, if the operator never put it anywhere), spaced from the words around.
  function choose(reply) {
    const message = state.detail?.message;
    const box = $("answer");
    if (!message || message.id !== view.message.id || !box || box.disabled) {
      say(t("replies.box_closed"), true);
      return;
    }
    const current = box.value;
    const chosen = personal(reply.text, message);
    let text = chosen;
    let caret = text.length;
    if (current.trim()) {
      const mark = view.caret;
      const kept = mark && mark.id === message.id && mark.value === current;
      const start = kept ? mark.start : current.length;
      const end = kept ? mark.end : current.length;
      const before = current.slice(0, start);
      const after = current.slice(end);
      const lead = before && !/\s$/.test(before) ? " " : "";
      const trail = after && !/^\s/.test(after) ? " " : "";
      text = `${before}${lead}${chosen}${trail}${after}`;
      caret = before.length + lead.length + chosen.length;
    }
    box.value = text;
    state.draft = { id: message.id, text };
    keepPlace();
    close(false);
    box.focus();
    box.setSelectionRange(caret, caret);
    showStatus(message.id, t("replies.used", { title: reply.title }));
  }

  // --- Saving, changing, deleting -------------------------------------------------------

  // The form, for a new reply (its text what the answer box holds) or to change `reply`.
  function openForm(reply) {
    const sector = view.message.sector;
    const title = el("input", { id: "reply-title", type: "text", maxlength: "80", autocomplete: "off",
      required: true, "aria-describedby": "reply-title-error" });
    title.value = reply ? reply.title : "";
    const text = el("textarea", { id: "reply-text", maxlength: "4096", required: true });
    text.value = reply ? reply.text : ($("answer")?.value || "").trim();
    const sectors = [...new Set([sector, reply?.sector].filter(Boolean))];
    const where = el("select", { id: "reply-sector" },
      el("option", { value: "" }, t("replies.all_sectors")),
      sectors.map((name) => el("option", { value: name }, name)));
    where.value = reply ? reply.sector || "" : sector || "";
    const titleError = el("p", { id: "reply-title-error", class: "field-error small", role: "alert", hidden: true });
    const save = el("button", { type: "submit", class: "primary", id: "reply-save" }, t("replies.save"));
    const form = el("form", { class: "replies-form", id: "replies-form", novalidate: true, onsubmit: submit },
      el("p", { class: "replies-form-title" }, t(reply ? "replies.form_edit" : "replies.form_new")),
      el("label", { for: "reply-title" }, t("replies.field_title")), title, titleError,
      el("label", { for: "reply-text" }, t("replies.field_text")), text,
      el("label", { for: "reply-sector" }, t("replies.field_sector")), where,
      el("div", { class: "actions" }, save,
        el("button", { type: "button", id: "reply-cancel", onclick: () => closeForm() }, t("replies.cancel"))));
    view.form = { id: reply ? reply.id : null, node: form, title, text, where, titleError, save };
    view.confirm = null;
    say("");
    if (!view.open) {
      view.open = true;
      showOpen();
      load();
    }
    renderBody();
    title.focus();
  }

  function closeForm() {
    view.form = null;
    renderBody();
    view.filter.focus();
  }

  function titleProblem(text) {
    const { titleError, title } = view.form;
    titleError.textContent = text;
    titleError.hidden = false;
    title.setAttribute("aria-invalid", "true");
    title.focus();
  }

  async function submit(event) {
    event.preventDefault();
    const form = view.form;
    const body = {
      title: form.title.value.trim(), text: form.text.value.trim(),
      sector: form.where.value || null, operator_name: state.operator || null,
    };
    form.titleError.hidden = true;
    form.title.removeAttribute("aria-invalid");
    say("");
    if (!body.title) return titleProblem(t("replies.need_title"));
    if (!body.text) {
      say(t("replies.need_text"), true);
      form.text.focus();
      return;
    }
    form.save.disabled = true;
    let saved;
    try {
      saved = form.id === null
        ? await api("POST", "/operator/replies", body)
        : await api("PUT", `/operator/replies/${form.id}`, body);
    } catch (exc) {
      if (view.form !== form) return;
      if (exc.status === 409) titleProblem(t("replies.duplicate"));
      else if (exc.status === 404 && form.id !== null) {
        form.id = null; // deleted meanwhile: what was typed is kept, and saving creates it
        say(t("replies.gone_form"), true);
      } else {
        const line = problem(exc);
        if (line !== null) say(line, true);
      }
      return;
    } finally {
      form.save.disabled = false;
    }
    if (view.form !== form) return;
    view.form = null;
    view.fresh = saved.id;
    view.filter.value = ""; // the new one is shown, whatever was filtered before
    renderBody();
    view.filter.focus();
    say(t(form.id === null ? "replies.created" : "replies.updated", { title: saved.title }));
    await load();
  }

  async function remove(reply) {
    try {
      await api("DELETE", `/operator/replies/${reply.id}`);
      say(t("replies.deleted", { title: reply.title }));
    } catch (exc) {
      const line = problem(exc);
      if (line !== null) say(line, exc.status !== 404); // already gone: nothing to undo
    }
    view.confirm = null;
    view.filter.focus();
    await load();
  }

  return { button, panel, open, close };
})();
