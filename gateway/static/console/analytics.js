// The analytics page: numbers and charts of the support work over a range of dates.
// It signs in with the console's own key (the same sessionStorage entry, so signing in on
// either page serves both) and reads GET /api/v1/analytics, its CSV and its SVG charts
// with `Authorization: Bearer <key>`. A chart cannot be an <img src> of the API (no way
// to send the key), so its SVG is fetched and shown as a data: image, which the page's
// policy allows and in which nothing can run.
"use strict";

const { API, STORE_KEY, el, ApiError } = atende; // common.js
const CHARTS = ["messages", "reviews", "queue", "failures"];
const BANDS = ["lt_5m", "5m_30m", "30m_2h", "2h_24h", "gt_24h"];
const BAND_LABELS = {
  lt_5m: "< 5 min", "5m_30m": "5–30 min", "30m_2h": "30 min–2 h", "2h_24h": "2–24 h", gt_24h: "> 24 h",
};

// Its strings in each language the console speaks (common.js picks one).
const STRINGS = {
  "pt-BR": {
    "title": "Análises do atendimento", "title.short": "· análises",
    "signin.key": "Chave de API (operador ou administrador)", "signin.submit": "Entrar",
    "signin.note": "A chave fica só nesta aba (sessionStorage), a mesma do console.",
    "signin.invalid": "Chave inválida ou revogada.",
    "signin.forbidden": "Esta chave não pode ver as análises: use uma de operador ou administrador.",
    "nav.console": "Console do operador", "nav.signout": "Sair",
    "range.from": "De", "range.to": "Até (inclusive)", "range.bucket": "Agrupar por",
    "range.apply": "Atualizar", "range.csv": "Exportar CSV",
    "range.loading": "carregando…", "range.updated": "atualizado às {time}",
    "range.exported": "CSV exportado",
    "bucket.day": "dia", "bucket.hour": "hora",
    "summary.title": "Resumo do período", "stat.messages": "Mensagens", "stat.suggested": "Com sugestão",
    "stat.reviewed": "Sugestões revisadas",
    "stat.latency": "Recebimento → sugestão (p50 / p95)",
    "stat.failures": "Falhas de envio", "stat.waiting": "Esperando um humano agora",
    "stat.oldest": "mais antiga: {age}", "stat.late": "{count} há mais de {target}",
    "stat.within": "Respondidas no prazo ({target})", "stat.within_p50": "mediana: {age}",
    "stat.closed": "Encerradas pelos operadores",
    "stat.closed_reasons": "{no_reply_needed} sem necessidade, {spam} spam, {duplicate} repetidas, {answered_together} respondidas junto, {blocked} de clientes bloqueados",
    "responses.title": "Tempo até a primeira resposta, por setor",
    "responses.note": "Mensagens recebidas no período e já respondidas (por um operador ou pelo envio automático do setor), contra o prazo de resposta de {target}.",
    "col.answered": "Respondidas", "col.within": "No prazo", "col.p50": "Mediana", "col.p95": "p95",
    "chart.messages": "Mensagens por setor",
    "chart.reviews": "O que os operadores fizeram com as sugestões",
    "chart.queue": "Idade da fila", "chart.failures": "Falhas de envio por motivo",
    "rates.title": "Aceitação e precisão por setor",
    "operators.title": "Por operador",
    "operators.note": "Respostas e encerramentos das mensagens do período, revisões feitas no período, pelo nome com que cada um entrou.",
    "operators.none": "Nenhum operador respondeu, revisou ou encerrou mensagens no período.",
    "operators.unnamed": "(sem nome)",
    "col.operator": "Operador", "col.op_answered": "Respondidas", "col.op_approved": "Aprovadas sem mudança",
    "col.op_edited": "Editadas", "col.op_rejected": "Rejeitadas", "col.op_closed": "Encerradas",
    "col.op_p50": "Mediana até a resposta",
    "rates.note": "Aceitação: (aprovadas + editadas, menos as trocadas por outra resposta) / revisadas. Precisão: aprovadas sem mudança / revisadas. Últimos 7 e 30 dias, até agora.",
    "col.bucket": "Período", "col.total": "Total", "col.sector": "Setor", "col.count": "Quantidade",
    "col.share": "Parcela", "col.outcome": "Resultado", "col.band": "Esperando há",
    "col.code": "Código", "col.reason": "Motivo", "col.reviewed": "Revisadas",
    "col.acceptance": "Aceitação", "col.precision": "Precisão",
    "days": "{days} dias",
    "outcome.approved": "aprovadas sem mudança", "outcome.edited": "aprovadas editadas",
    "outcome.replaced": "das editadas, trocadas por outra resposta",
    "outcome.rejected": "rejeitadas", "no_sector": "(sem setor)",
    "no_failures": "Nenhuma falha de envio no período.",
    "error.generic": "Não foi possível carregar as análises: {message}",
  },
  "en": {
    "title": "Support analytics", "title.short": "· analytics",
    "signin.key": "API key (operator or admin)", "signin.submit": "Sign in",
    "signin.note": "The key stays in this tab only (sessionStorage), shared with the console.",
    "signin.invalid": "Invalid or revoked key.",
    "signin.forbidden": "This key may not see analytics: use an operator or admin key.",
    "nav.console": "Operator console", "nav.signout": "Sign out",
    "range.from": "From", "range.to": "To (inclusive)", "range.bucket": "Group by",
    "range.apply": "Refresh", "range.csv": "Export CSV",
    "range.loading": "loading…", "range.updated": "updated at {time}",
    "range.exported": "CSV exported",
    "bucket.day": "day", "bucket.hour": "hour",
    "summary.title": "Summary of the range", "stat.messages": "Messages", "stat.suggested": "With a suggestion",
    "stat.reviewed": "Suggestions reviewed",
    "stat.latency": "Receipt → suggestion (p50 / p95)",
    "stat.failures": "Failed deliveries", "stat.waiting": "Waiting for a human now",
    "stat.oldest": "oldest: {age}", "stat.late": "{count} over {target}",
    "stat.within": "Answered within target ({target})", "stat.within_p50": "median: {age}",
    "stat.closed": "Closed by operators",
    "stat.closed_reasons": "{no_reply_needed} no reply needed, {spam} spam, {duplicate} repeated, {answered_together} answered together, {blocked} from blocked customers",
    "responses.title": "Time to first answer, per sector",
    "responses.note": "Messages received in the range and answered since (by an operator or by the sector's auto-send), against the {target} response target.",
    "col.answered": "Answered", "col.within": "Within target", "col.p50": "Median", "col.p95": "p95",
    "chart.messages": "Messages per sector",
    "chart.reviews": "What operators did with suggestions",
    "chart.queue": "Queue age", "chart.failures": "Failed deliveries by reason",
    "rates.title": "Acceptance and precision per sector",
    "operators.title": "Per operator",
    "operators.note": "Answers and closes of the range's messages, reviews made in the range, by the name each signed in with.",
    "operators.none": "No operator answered, reviewed or closed messages in the range.",
    "operators.unnamed": "(no name)",
    "col.operator": "Operator", "col.op_answered": "Answered", "col.op_approved": "Approved unchanged",
    "col.op_edited": "Edited", "col.op_rejected": "Rejected", "col.op_closed": "Closed",
    "col.op_p50": "Median to answer",
    "rates.note": "Acceptance: (approved + edited, less those replaced by another answer) / reviewed. Precision: approved unchanged / reviewed. Last 7 and 30 days, to now.",
    "col.bucket": "Period", "col.total": "Total", "col.sector": "Sector", "col.count": "Count",
    "col.share": "Share", "col.outcome": "Outcome", "col.band": "Waiting for",
    "col.code": "Code", "col.reason": "Reason", "col.reviewed": "Reviewed",
    "col.acceptance": "Acceptance", "col.precision": "Precision",
    "days": "{days} days",
    "outcome.approved": "approved unchanged", "outcome.edited": "approved edited",
    "outcome.replaced": "of the edited, replaced by another answer",
    "outcome.rejected": "rejected", "no_sector": "(no sector)",
    "no_failures": "No failed deliveries in this range.",
    "error.generic": "Could not load the analytics: {message}",
  },
};

const i18n = atende.translator(STRINGS);
const t = i18n.t;
const state = {
  key: sessionStorage.getItem(STORE_KEY),
  report: null,
  get lang() { return i18n.lang; },
};
const $ = (id) => document.getElementById(id);

async function call(path) {
  const response = await fetch(API + path, { headers: { Authorization: `Bearer ${state.key}` } });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      message = body.error?.message || message;
    } catch { /* not JSON: the status says enough */ }
    throw new ApiError(response.status, message);
  }
  return response;
}

// --- language ---------------------------------------------------------------------------

async function loadLanguage() {
  await i18n.load();
  document.title = `atende · ${t("title.short").replace(/^·\s*/, "")}`;
}

// --- formatting -------------------------------------------------------------------------

const number = (value) => (value === null || value === undefined ? "–"
  : new Intl.NumberFormat(state.lang).format(value));
const percent = (value) => (value === null || value === undefined ? "–"
  : new Intl.NumberFormat(state.lang, { style: "percent", maximumFractionDigits: 1 }).format(value));
const ms = (value) => (value === null || value === undefined ? "–"
  : value >= 1000 ? `${number(Math.round(value / 100) / 10)} s` : `${number(Math.round(value))} ms`);
const sectorName = (sector) => sector ?? t("no_sector");

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${number(Math.round(seconds / 360) / 10)} h`;
  return `${number(Math.round(seconds / 8640) / 10)} d`;
}

function bucketLabel(iso, bucket) {
  const date = new Date(iso);
  const options = bucket === "hour"
    ? { timeZone: "UTC", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit" }
    : { timeZone: "UTC", day: "2-digit", month: "2-digit", year: "numeric" };
  return new Intl.DateTimeFormat(state.lang, options).format(date);
}

// --- the range --------------------------------------------------------------------------

const isoDate = (date) => date.toISOString().slice(0, 10);

function defaultRange() {
  const today = new Date();
  const from = new Date(today);
  from.setUTCDate(from.getUTCDate() - 6);
  $("range-from").value = isoDate(from);
  $("range-to").value = isoDate(today);
}

// The inclusive "to" day the form shows is the API's exclusive next midnight.
function rangeQuery() {
  const to = new Date(`${$("range-to").value}T00:00:00Z`);
  to.setUTCDate(to.getUTCDate() + 1);
  return new URLSearchParams({
    from: $("range-from").value, to: isoDate(to), bucket: $("range-bucket").value,
  });
}

// --- rendering --------------------------------------------------------------------------

function table(id, head, rows) {
  const node = $(id);
  node.replaceChildren(
    el("thead", null, el("tr", null, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", null, rows.map((cells) => el("tr", null, cells.map((c, i) =>
      el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : null, c))))),
  );
}

function render(report) {
  $("stat-messages").textContent = number(report.messages.total);
  $("stat-suggested").textContent = number(report.suggestions.suggested);
  $("stat-suggested-share").textContent = ` (${percent(report.suggestions.share)})`;
  $("stat-reviewed").textContent = number(report.reviews.reviewed);
  $("stat-latency").textContent = `${ms(report.latency.p50_ms)} / ${ms(report.latency.p95_ms)}`;
  $("stat-failures").textContent = number(report.delivery_failures.total);
  $("stat-waiting").textContent = number(report.queue.waiting);
  const closed = report.closed;
  $("stat-closed").textContent = number(closed.total);
  $("stat-closed-reasons").textContent = closed.total ? ` ${t("stat.closed_reasons", {
    no_reply_needed: number(closed.no_reply_needed), spam: number(closed.spam),
    duplicate: number(closed.duplicate), answered_together: number(closed.answered_together),
    blocked: number(closed.blocked) })}` : "";
  $("stat-oldest").textContent = report.queue.waiting
    ? ` ${t("stat.oldest", { age: age(report.queue.oldest_seconds) })}` : "";
  const responses = report.responses;
  const target = age(responses.target_seconds);
  $("stat-late").textContent = report.queue.late
    ? t("stat.late", { count: number(report.queue.late), target }) : "";
  $("stat-within-label").textContent = t("stat.within", { target });
  $("stat-within").textContent = percent(responses.within_target_share);
  $("stat-within-p50").textContent = responses.answered
    ? ` ${t("stat.within_p50", { age: age(responses.p50_seconds) })}` : "";
  $("responses-note").textContent = t("responses.note", { target });
  table("table-responses",
    [t("col.sector"), t("col.answered"), t("col.within"), t("col.p50"), t("col.p95")],
    [...responses.by_sector.filter((s) => s.answered > 0), { ...responses, sector: undefined }]
      .map((s) => [s.sector === undefined ? t("col.total") : sectorName(s.sector),
        number(s.answered), `${number(s.within_target)} (${percent(s.within_target_share)})`,
        age(s.p50_seconds), age(s.p95_seconds)]));

  const sectors = report.messages.by_sector.filter((s) => s.count > 0).map((s) => s.sector);
  table("table-messages",
    [t("col.bucket"), ...sectors.map(sectorName), t("col.total")],
    [
      ...report.messages.buckets.map((b) => {
        const counts = new Map(b.sectors.map((c) => [c.sector, c.count]));
        return [bucketLabel(b.bucket, report.bucket),
          ...sectors.map((s) => number(counts.get(s) ?? 0)), number(b.total)];
      }),
      [t("col.total"), ...sectors.map((s) =>
        number(report.messages.by_sector.find((c) => c.sector === s).count)),
      number(report.messages.total)],
    ]);

  table("table-reviews", [t("col.outcome"), t("col.count"), t("col.share")],
    ["approved", "edited", "replaced", "rejected"].map((o) =>
      [t(`outcome.${o}`), number(report.reviews[o]), percent(report.reviews[`${o}_share`])]));

  const bands = new Map(report.queue.bands.map((b) => [b.band, b.count]));
  table("table-queue", [t("col.band"), t("col.count")],
    BANDS.map((b) => [BAND_LABELS[b], number(bands.get(b) ?? 0)]));

  const failures = report.delivery_failures.by_reason;
  if (failures.length) {
    table("table-failures", [t("col.code"), t("col.reason"), t("col.count")],
      failures.map((f) => [f.code ?? "–", f.reason ?? "–", number(f.count)]));
  } else {
    $("table-failures").replaceChildren(el("caption", { class: "muted" }, t("no_failures")));
  }

  if (report.operators.length) {
    table("table-operators", ["operator", "op_answered", "op_approved", "op_edited", "op_rejected",
      "op_closed", "op_p50"].map((c) => t(`col.${c}`)),
    report.operators.map((o) => [o.name ?? t("operators.unnamed"), number(o.answered),
      number(o.approved), number(o.edited), number(o.rejected), number(o.closed),
      age(o.p50_response_seconds)]));
  } else {
    $("table-operators").replaceChildren(el("caption", { class: "muted" }, t("operators.none")));
  }

  const rates = new Map(report.sector_rates.map((r) => [`${r.sector}|${r.days}`, r]));
  const rateSectors = [...new Set(report.sector_rates.map((r) => r.sector))];
  const windows = [...new Set(report.sector_rates.map((r) => r.days))];
  const head = [t("col.sector"), ...windows.flatMap((d) => [
    `${t("col.reviewed")} · ${t("days", { days: d })}`,
    `${t("col.acceptance")} · ${t("days", { days: d })}`,
    `${t("col.precision")} · ${t("days", { days: d })}`,
  ])];
  table("table-rates", head, rateSectors.map((s) => [sectorName(s), ...windows.flatMap((d) => {
    const r = rates.get(`${s}|${d}`);
    return [number(r.reviewed), percent(r.acceptance_rate), percent(r.precision)];
  })]));
}

async function loadCharts(query) {
  await Promise.all(CHARTS.map(async (name) => {
    const params = new URLSearchParams(query);
    params.set("lang", state.lang);
    const svg = await (await call(`/analytics/charts/${name}.svg?${params}`)).text();
    const img = $(`chart-${name}`);
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    img.dataset.loaded = "true";
  }));
}

async function load() {
  const query = rangeQuery();
  $("report-error").hidden = true;
  $("range-status").textContent = t("range.loading");
  $("report").setAttribute("aria-busy", "true");
  try {
    const report = await (await call(`/analytics?${query}`)).json();
    state.report = report;
    render(report);
    await loadCharts(query);
    const time = new Intl.DateTimeFormat(state.lang, { timeStyle: "short" }).format(new Date());
    $("range-status").textContent = t("range.updated", { time });
    $("report").dataset.ready = "true";
  } catch (error) {
    handle(error);
  } finally {
    $("report").removeAttribute("aria-busy");
  }
}

async function exportCsv() {
  try {
    const response = await call(`/analytics.csv?${rangeQuery()}`);
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] || "atende-analytics.csv";
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $("range-status").textContent = t("range.exported");
  } catch (error) {
    handle(error);
  }
}

function handle(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    signOut(t(error.status === 401 ? "signin.invalid" : "signin.forbidden"));
    return;
  }
  $("range-status").textContent = "";
  $("report-error").textContent = t("error.generic", { message: error.message });
  $("report-error").hidden = false;
}

// --- sign-in ----------------------------------------------------------------------------

function show(signedIn) {
  $("signin-view").hidden = signedIn;
  $("app-view").hidden = !signedIn;
}

function signOut(message) {
  sessionStorage.removeItem(STORE_KEY);
  state.key = null;
  show(false);
  $("signin-error").textContent = message || "";
  $("signin-error").hidden = !message;
}

function start() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("signin-key").value.trim();
    sessionStorage.setItem(STORE_KEY, state.key);
    $("signin-error").hidden = true;
    show(true);
    load();
  });
  $("range-form").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("export-csv").addEventListener("click", exportCsv);
  $("signout").addEventListener("click", () => signOut());
  defaultRange();
  if (state.key) {
    show(true);
    load();
  } else {
    show(false);
  }
}

loadLanguage().then(start);
