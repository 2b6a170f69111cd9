// The console's keys: moving through the queue, the next free message, the actions and the
// help that lists them. Loaded after console.js, whose state and helpers it uses.
"use strict";

// --- Keyboard -------------------------------------------------------------------------

function moveSelection(step) {
  const items = shownItems();
  if (!items.length) return;
  const at = items.findIndex((m) => m.id === state.selected);
  const next = at < 0 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  const inQueue = $("queue-list").contains(document.activeElement);
  select(items[next].id).then(() => {
    const item = queueItem(items[next].id);
    item?.scrollIntoView({ block: "nearest" });
    if (inQueue) item?.focus({ preventScroll: true }); // the keyboard's place moves with it
  });
}

// The oldest message that nobody else holds, other than the one open: where an operator
// goes after answering, without opening what a colleague is already answering.
function nextFree() {
  const next = shownItems().find((m) => m.id !== state.selected && (!m.assigned_to || isMine(m)));
  $("queue-note").textContent = next ? "" : t("queue.none_free");
  if (!next) return;
  select(next.id).then(() => {
    queueItem(next.id)?.scrollIntoView({ block: "nearest" });
  });
}

// A modal dialog: the keyboard stays in it while it is open and goes back, when it
// closes, to where it was (a queue item, the answer box).
let helpReturn = null;

function toggleHelp(show) {
  $("help").hidden = !show;
  if (show) {
    helpReturn = document.activeElement;
    $("help-close").focus();
  } else {
    // A queue item may have been drawn anew meanwhile: the same message's item, then.
    const back = helpReturn?.isConnected ? helpReturn : queueItem(helpReturn?.dataset?.id);
    back?.focus({ preventScroll: true });
    helpReturn = null;
  }
}

function onKey(event) {
  if ($("app-view").hidden) return;
  if (event.key === "Tab" && !$("help").hidden) {
    event.preventDefault(); // its own controls are the only places to go, in a ring
    const stops = [...$("help").querySelectorAll("select, button")];
    const at = stops.indexOf(document.activeElement);
    stops[at < 0 ? 0 : (at + (event.shiftKey ? stops.length - 1 : 1)) % stops.length].focus();
    return;
  }
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
    b: () => message && together.key(),
    z: () => sending.undo(), // the latest answer waiting comes back
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
