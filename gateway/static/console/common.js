// What the console's pages share: building elements safely, calling the API, the
// language (Portuguese by default, English by ATENDE_CONSOLE_LANGUAGE).
"use strict";

const atende = (() => {
  const API = "/api/v1";
  const STORE_KEY = "atende.console.key";

  // Builds elements with textContent only: customer text is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // A JSON call with the key of this tab; an ApiError names what went wrong. `keepalive`
  // lets the request outlive the page (an answer sent as the operator leaves it).
  async function api(key, method, path, body, offline, { keepalive = false } = {}) {
    const headers = { Authorization: `Bearer ${key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), keepalive,
      });
    } catch {
      throw new ApiError(0, offline);
    }
    let data = null;
    try { data = await response.json(); } catch { data = null; }
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || response.statusText;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  // One page's strings by language; t() falls back to Portuguese, then to the key.
  function translator(strings) {
    const state = { lang: "pt-BR" };
    function t(key, values) {
      const text = (strings[state.lang] || strings["pt-BR"])[key] ?? strings["pt-BR"][key] ?? key;
      return text.replace(/\{(\w+)\}/g, (_, name) => String(values?.[name] ?? ""));
    }
    // Reads the gateway's language (no key needed) and fills every [data-i18n] node.
    async function load() {
      try {
        const response = await fetch("/console/config.json");
        if (response.ok) {
          const config = await response.json();
          if (strings[config.language]) state.lang = config.language;
        }
      } catch { /* no config: Portuguese */ }
      document.documentElement.lang = state.lang;
      for (const node of document.querySelectorAll("[data-i18n]")) {
        node.textContent = t(node.dataset.i18n);
      }
      for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
        node.placeholder = t(node.dataset.i18nPlaceholder);
      }
      for (const node of document.querySelectorAll("[data-i18n-title]")) {
        node.title = t(node.dataset.i18nTitle);
      }
      for (const node of document.querySelectorAll("[data-i18n-alt]")) {
        node.alt = t(node.dataset.i18nAlt);
      }
      return state.lang;
    }
    return { t, load, get lang() { return state.lang; } };
  }

  return { API, STORE_KEY, el, ApiError, api, translator };
})();
