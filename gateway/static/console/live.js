// Live updates from GET /api/v1/operator/events (read with fetch(), which can send the key's
// header, unlike EventSource) and the desktop alerts of new messages.
// Loaded after console.js, whose state and helpers it uses.
"use strict";

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
  // Closed meanwhile, or from a blocked customer: nobody needs to come either.
  if (document.visibilityState === "visible" || message.answered_at || message.closed_at) return;
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
