// flowledger dashboard: live refresh over the WebSocket gateway, log following, actions.
// Every HTML fragment it inserts was rendered and escaped by the server (same origin); the
// session credential is an HttpOnly cookie this script never sees: the socket uses a ticket.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const statusLine = document.getElementById("live-status");

  function say(text) {
    if (statusLine) statusLine.textContent = text;
  }

  async function post(url) {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
    });
    if (answer.status === 401) window.location.assign("/dashboard/sign-in");
    return answer;
  }

  // Buttons that change state: cancel, retry.
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const answer = await post(button.dataset.post);
      say(answer.ok ? button.textContent + ": accepted" : button.textContent + ": refused (" + answer.status + ")");
      button.disabled = false;
    });
  }

  // Log search: hides the lines that do not contain the text.
  const logs = document.getElementById("logs");
  const filter = document.getElementById("log-filter");
  function applyFilter() {
    if (!logs || !filter) return;
    const needle = filter.value.toLowerCase();
    for (const line of logs.querySelectorAll(".line")) {
      line.hidden = needle !== "" && !line.textContent.toLowerCase().includes(needle);
    }
  }
  if (filter) filter.addEventListener("input", applyFilter);

  const live = document.getElementById("live");
  if (!live || !live.dataset.watch) return;
  let last = Number(live.dataset.position || "0");
  let pending = null;
  let following = Promise.resolve();

  async function refresh() {
    pending = null;
    const answer = await fetch(live.dataset.live, {
      credentials: "same-origin",
      headers: { "X-Min-Position": String(last) },
    });
    if (answer.status === 401) return window.location.assign("/dashboard/sign-in");
    if (answer.ok) live.innerHTML = await answer.text();
    const graph = live.dataset.graph && document.getElementById(live.dataset.graph);
    if (graph) graph.src = graph.src.split("?")[0] + "?at=" + last;
    following = following.then(followLogs);
    live.dataset.position = String(last);
    document.body.dataset.livePosition = String(last);
  }

  // Appends the log lines after the last one shown: keyed by event position, so a reconnect
  // neither skips nor repeats a line.
  async function followLogs() {
    if (!logs) return;
    for (;;) {
      const after = logs.dataset.after || "0";
      const answer = await fetch(logs.dataset.logs + "?after_position=" + after, {
        credentials: "same-origin",
        headers: { "X-Min-Position": String(last) },
      });
      if (!answer.ok) return;
      const html = await answer.text();
      if (html.trim() === "") return;
      const scrolled = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      logs.insertAdjacentHTML("beforeend", html);
      const lines = logs.querySelectorAll(".line");
      logs.dataset.after = lines[lines.length - 1].dataset.position;
      applyFilter();
      if (scrolled) logs.scrollTop = logs.scrollHeight;
    }
  }

  function schedule() {
    if (pending === null) pending = setTimeout(refresh, 50);
  }

  async function connect() {
    const answer = await post("/dashboard/ticket").catch(() => null);
    if (answer === null || !answer.ok) return setTimeout(connect, 2000);
    const { ticket } = await answer.json();
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + window.location.host + live.dataset.watch + "?after=" + last;
    const socket = new WebSocket(url, ["flowledger.token." + ticket]);
    socket.addEventListener("open", () => {
      document.body.dataset.live = "open";
      say("Live");
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (typeof event.position !== "number" || event.position <= last) return;
      last = event.position;
      if (event.type !== "heartbeat") schedule();
    });
    socket.addEventListener("close", (closed) => {
      document.body.dataset.live = "closed";
      if (closed.code === 4401) return window.location.assign("/dashboard/sign-in");
      if (closed.code === 4403 || closed.code === 4404) return say("Live updates refused");
      say("Reconnecting…");
      setTimeout(connect, 1000);
    });
  }

  connect();
})();
