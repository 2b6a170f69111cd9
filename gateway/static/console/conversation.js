// A customer's whole conversation, 20 messages at a time, newest at the bottom.
// Loaded after console.js, whose state and helpers it uses.
"use strict";

// --- A customer's whole conversation --------------------------------------------------

async function openConversation() {
  if (!state.detail) return;
  const client = state.detail.message.client_id;
  state.view = "conversation";
  state.conversation = { client, items: [], page: 0, pages: 1, total: 0 };
  await loadOlder();
  if (state.view === "conversation") announce(t("conversation.title"));
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
