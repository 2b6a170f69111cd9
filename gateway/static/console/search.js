// The top bar's search: the API's semantic search; a result opens that message.
// Loaded after console.js, whose state and helpers it uses.
"use strict";

// --- Search -----------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const query = $("search-input").value.trim();
  if (!query) return;
  state.view = "search";
  try {
    const result = await api("POST", "/messages/search", { query, limit: 20 });
    state.search = { query, items: result.items };
  } catch (exc) {
    const text = failed(exc);
    if (text) pageError(text);
    return;
  }
  renderSearch();
  announce(t("search.found", { count: state.search.items.length, query }));
}

function renderSearch() {
  const { query, items } = state.search;
  $("detail").replaceChildren(
    el("h2", {}, t("search.title_results", { query })),
    items.length === 0 ? el("p", { class: "muted", id: "search-empty" }, t("search.none")) :
      el("ul", { class: "results", id: "search-results" }, items.map((hit) => el("li", {
        tabindex: "0", "data-id": hit.id,
        onclick: () => select(hit.id),
        onkeydown: opensOnKey(() => select(hit.id)),
      },
      el("div", { class: "when" }, t("search.hit", {
        id: hit.id, sector: hit.sector || t("no_sector"), state: stateName(hit.validated_by),
        similarity: hit.similarity.toFixed(3),
      })),
      el("div", {}, hit.message),
      hit.answer && hit.validated_by === "human" ? el("div", { class: "reply" }, `↳ ${hit.answer}`) : null))),
  );
}
