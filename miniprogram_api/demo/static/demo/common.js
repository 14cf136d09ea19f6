/* What both demo pages share: calling the API, showing money and errors, building DOM. */
"use strict";

const demo = (() => {
  class ApiError extends Error {
    constructor(status, body) {
      const error = body && body.error;
      const text = error && typeof error === "object" ? `${error.code}: ${error.message}` : error || `HTTP ${status}`;
      super(text);
      this.status = status;
      this.code = error && error.code;
      this.details = error && error.details;
    }
  }

  /** One JSON call; an answer >= 400 throws ApiError carrying the API's error code. */
  async function api(method, path, { body, authorization, headers = {} } = {}) {
    const sent = { Accept: "application/json", ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (authorization) sent.Authorization = authorization;
    const response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** Fen to a yuan label with integer arithmetic only: 16900 -> "¥169.00". */
  function yuan(fen) {
    if (fen === null || fen === undefined) return "-";
    const sign = fen < 0 ? "-" : "";
    const abs = Math.abs(fen);
    return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  }

  /** An element with properties and children; text is always set as text, never as HTML. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node[name] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function status(text, kind = "info") {
    const node = document.getElementById("status");
    node.textContent = text;
    node.className = kind;
  }

  /** Run an async action for a button or form, showing its failure instead of losing it. */
  function guarded(action) {
    return async (event) => {
      if (event) event.preventDefault();
      try {
        await action(event);
      } catch (error) {
        status(error.message, "error");
      }
    };
  }

  /** A fresh Idempotency-Key; getRandomValues works on plain http too (randomUUID does not). */
  function uuid() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function show(id, visible = true) {
    document.getElementById(id).hidden = !visible;
  }

  function localTime(iso) {
    return iso ? new Date(iso).toLocaleString() : "-";
  }

  return { ApiError, api, yuan, el, status, guarded, uuid, show, localTime };
})();
