// The WhatsApp customer service window: WhatsApp delivers a written answer only within 24
// hours of the customer's last message; after it, it refuses the answer (error 131047)
// and the delivery fails. Each WhatsApp message says when its customer's window closes
// (`reply_window_closes_at`), so the queue marks the messages whose window closes soon or
// has closed, and the detail says until when an answer still reaches the customer.
// Loaded after console.js and its parts, whose STRINGS (strings.js), t, el, clock, when and age it uses; console.js
// calls whatsappWindow.badge(message), .field(message) and .notice(message).
"use strict";

Object.assign(STRINGS["pt-BR"], {
  "window.field": "Janela do WhatsApp",
  "window.open": "aberta até {time} (fecha em {left})",
  "window.closed": "fechada desde {time}",
  "window.badge_soon": "janela: {left}",
  "window.badge_soon_title": "O WhatsApp só entrega respostas escritas até {time}, 24 h depois da última mensagem do cliente",
  "window.badge_closed": "janela fechada",
  "window.badge_closed_title": "Passaram 24 h da última mensagem do cliente: o WhatsApp recusa respostas escritas",
  "window.notice_soon": "A janela de 24 h do WhatsApp fecha às {time} (em {left}): responda antes disso, ou o WhatsApp recusará a resposta.",
  "window.notice_closed": "A janela de 24 h do WhatsApp fechou em {time}: o WhatsApp recusa respostas escritas a este cliente até que ele escreva de novo, e uma resposta enviada agora falhará na entrega.",
});

Object.assign(STRINGS.en, {
  "window.field": "WhatsApp window",
  "window.open": "open until {time} (closes in {left})",
  "window.closed": "closed since {time}",
  "window.badge_soon": "window: {left}",
  "window.badge_soon_title": "WhatsApp delivers written answers only until {time}, 24 h after the customer's last message",
  "window.badge_closed": "window closed",
  "window.badge_closed_title": "24 h have passed since the customer's last message: WhatsApp refuses written answers",
  "window.notice_soon": "The 24-hour WhatsApp window closes at {time} (in {left}): answer before then, or WhatsApp will refuse the answer.",
  "window.notice_closed": "The 24-hour WhatsApp window closed on {time}: WhatsApp refuses written answers to this customer until they write again, and an answer sent now will fail to deliver.",
});

const whatsappWindow = (() => {
  const SOON = 2 * 3600; // seconds: from here on the queue and the detail warn

  // Seconds until the window closes (negative once closed); null for a message no answer
  // is waited for, or one of another channel.
  function left(message) {
    if (!message.reply_window_closes_at) return null;
    if (message.validated_by === "human" || message.closed_at) return null;
    return (new Date(message.reply_window_closes_at) - Date.now()) / 1000;
  }

  const values = (message, seconds) => ({
    time: seconds > 0 ? clock(message.reply_window_closes_at) : when(message.reply_window_closes_at),
    left: age(seconds),
  });

  // In the queue: only when it closes soon, or has closed.
  function badge(message) {
    const seconds = left(message);
    if (seconds === null || seconds > SOON) return null;
    const closed = seconds <= 0;
    return el("span", {
      class: `badge window ${closed ? "closed" : "soon"}`,
      title: t(closed ? "window.badge_closed_title" : "window.badge_soon_title", values(message, seconds)),
    }, t(closed ? "window.badge_closed" : "window.badge_soon", values(message, seconds)));
  }

  // [dt, dd] for the detail's list, for every WhatsApp message still waiting.
  function field(message) {
    const seconds = left(message);
    if (seconds === null) return [];
    return [el("dt", {}, t("window.field")),
      el("dd", { id: "detail-window", class: seconds <= 0 ? "window-closed" : null },
        t(seconds > 0 ? "window.open" : "window.closed", values(message, seconds)))];
  }

  // Atop the detail, when it closes soon or has closed.
  function notice(message) {
    const seconds = left(message);
    if (seconds === null || seconds > SOON) return null;
    return el("p", { class: `notice window-notice${seconds <= 0 ? " closed" : ""}`, id: "window-notice",
      role: "status" }, t(seconds > 0 ? "window.notice_soon" : "window.notice_closed", values(message, seconds)));
  }

  return { badge, field, notice };
})();
