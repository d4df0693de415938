// The little JavaScript the dashboard needs: confirmations, the live deployment log and runtime
// logs. Served by Slipway itself; the Content-Security-Policy allows nothing else.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

async function followLog(pre) {
  const url = pre.getAttribute("data-follow");
  if (!url) return;
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 30;
      pre.textContent += decoder.decode(value, { stream: true });
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
  pre.textContent = await response.text();
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
