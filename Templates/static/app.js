// The little JavaScript the dashboard needs: confirmations, the live deployment log and runtime
// logs. Served by Slipway itself; the Content-Security-Policy allows nothing else.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// Build and app output carries colour codes (ANSI SGR: ESC[32m and the like). Shown as spans the
// stylesheet colours, as the server renders a finished log (ANSIText.swift); every other escape
// is dropped. Text goes in as text nodes, never as markup. `carry` keeps an escape cut in two by
// the end of a chunk for the next one.
class AnsiWriter {
  constructor(pre) {
    this.pre = pre;
    this.style = {};
    this.carry = "";
  }

  write(chunk) {
    let text = this.carry + chunk;
    this.carry = "";
    let run = "";
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c !== "\x1b") { run += c; i++; continue; }
      if (i + 1 >= text.length) { this.carry = text.slice(i); break; }
      const next = text[i + 1];
      if (next === "[") {
        let j = i + 2;
        while (j < text.length && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x3f) j++;
        if (j >= text.length) { this.carry = text.slice(i); break; }
        if (text[j] === "m") {
          this.append(run);
          run = "";
          this.apply(text.slice(i + 2, j).split(";").map((p) => parseInt(p, 10) || 0));
        }
        i = j + 1;
      } else if (next === "]") {
        let j = i + 2;
        while (j < text.length && text[j] !== "\x07" && !(text[j] === "\x1b" && text[j + 1] === "\\")) j++;
        if (j >= text.length) { this.carry = text.slice(i); break; }
        i = text[j] === "\x1b" ? j + 2 : j + 1;
      } else {
        // Any other escape: intermediates 0x20-0x2F (as in ESC ( B), then a final byte.
        let j = i + 1;
        while (j < text.length && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j++;
        if (j >= text.length) { this.carry = text.slice(i); break; }
        i = j + 1;
      }
    }
    this.append(run);
  }

  apply(params) {
    const list = params.length ? params : [0];
    for (let k = 0; k < list.length; k++) {
      const p = list[k];
      if (p === 0) this.style = {};
      else if (p === 1) this.style.bold = true;
      else if (p === 2) this.style.dim = true;
      else if (p === 3) this.style.italic = true;
      else if (p === 4) this.style.underline = true;
      else if (p === 22) { delete this.style.bold; delete this.style.dim; }
      else if (p === 23) delete this.style.italic;
      else if (p === 24) delete this.style.underline;
      else if (p >= 30 && p <= 37) this.style.fg = p - 30;
      else if (p === 39) delete this.style.fg;
      else if (p >= 40 && p <= 47) this.style.bg = p - 40;
      else if (p === 49) delete this.style.bg;
      else if (p >= 90 && p <= 97) this.style.fg = p - 90 + 8;
      else if (p >= 100 && p <= 107) this.style.bg = p - 100 + 8;
      else if (p === 38 || p === 48) k += list[k + 1] === 5 ? 2 : list[k + 1] === 2 ? 4 : 1;
    }
  }

  append(text) {
    if (!text) return;
    const s = this.style;
    const classes = [];
    if (s.fg !== undefined) classes.push("ansi-fg-" + s.fg);
    if (s.bg !== undefined) classes.push("ansi-bg-" + s.bg);
    for (const name of ["bold", "dim", "italic", "underline"]) if (s[name]) classes.push("ansi-" + name);
    if (!classes.length) { this.pre.appendChild(document.createTextNode(text)); return; }
    const span = document.createElement("span");
    span.className = classes.join(" ");
    span.textContent = text;
    this.pre.appendChild(span);
  }
}

async function followLog(pre) {
  const url = pre.getAttribute("data-follow");
  if (!url) return;
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const writer = new AnsiWriter(pre);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 30;
      writer.write(decoder.decode(value, { stream: true }));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
  } catch (e) {
    pre.textContent += "\n[log stream interrupted: " + e + "]\n";
  }
  // The stream ends when the deployment does: reload to show the result and the final steps.
  window.location.reload();
}

async function loadLogs(button) {
  const pre = document.getElementById("app-logs");
  pre.textContent = "Loading…";
  const response = await fetch(button.getAttribute("data-logs"), { credentials: "same-origin" });
  const text = await response.text();
  pre.textContent = "";
  new AnsiWriter(pre).write(text);
  pre.scrollTop = pre.scrollHeight;
}

document.addEventListener("DOMContentLoaded", () => {
  const log = document.getElementById("log");
  if (log) {
    log.scrollTop = log.scrollHeight;
    followLog(log);
  }
  const refresh = document.getElementById("refresh-logs");
  if (refresh) refresh.addEventListener("click", () => loadLogs(refresh));
});
