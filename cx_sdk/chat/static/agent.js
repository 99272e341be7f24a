/* cx console, live chat: live updates over the console's WebSocket; replies go over it too.
   Everything from the network is rendered with textContent. */
(function () {
  "use strict";
  var desk = document.getElementById("chat-desk");
  if (!desk) return;
  var d = desk.dataset;
  var selected = d.selected;
  var box = document.getElementById("chat-messages");
  var form = document.getElementById("chat-reply");
  var typing = document.getElementById("chat-typing");
  var live = document.getElementById("chat-live");
  var names = { visitor: d.tCustomer, agent: d.tAgent, auto: d.tAuto };
  var ws = null, retry = 0, timer = 0, typedAt = 0;
  var socket = location.pathname.replace(/\/chat\/?$/, "/chat/ws");

  function has(id) { return box && box.querySelector('[data-id="' + id + '"]'); }

  function add(m) {
    if (!box || has(m.id)) return;
    var item = document.createElement("div");
    item.className = "msg from-" + m.from;
    item.setAttribute("data-id", m.id);
    var who = document.createElement("strong");
    who.textContent = names[m.from] || m.from;
    var at = document.createElement("time");
    at.dateTime = m.at;
    at.textContent = " " + new Date(m.at).toLocaleString();
    var body = document.createElement("p");
    body.textContent = m.body;
    item.appendChild(who);
    item.appendChild(at);
    item.appendChild(body);
    box.appendChild(item);
    box.scrollTop = box.scrollHeight;
  }

  function elsewhere(c) {
    var row = document.querySelector('#chat-conversations [data-c="' + CSS.escape(c) + '"]');
    if (row) {
      row.classList.add("fresh");
      row.parentNode.insertBefore(row, row.parentNode.firstChild);
    } else live.textContent = d.tNew;
  }

  function handle(m) {
    if (m.type === "msg") {
      if (m.c === selected) { add(m); typing.textContent = ""; }
      else elsewhere(m.c);
    } else if (m.type === "typing" && m.from === "visitor" && m.c === selected) {
      typing.textContent = d.tTyping;
      clearTimeout(timer);
      timer = setTimeout(function () { typing.textContent = ""; }, 4000);
    } else if (m.type === "update" && m.c !== selected) elsewhere(m.c);
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + socket);
    ws.onopen = function () { retry = 0; };
    ws.onmessage = function (ev) { handle(JSON.parse(ev.data)); };
    ws.onclose = function () {
      ws = null;
      setTimeout(connect, Math.min(15000, 300 * Math.pow(2, retry++)));
    };
  }

  if (box) box.scrollTop = box.scrollHeight;
  if (form) {
    var input = form.querySelector("textarea");
    form.addEventListener("submit", function (ev) {
      if (!ws || ws.readyState !== 1) return;
      ev.preventDefault();
      var body = input.value.trim();
      if (!body) return;
      ws.send(JSON.stringify({ type: "msg", c: selected, body: body }));
      input.value = "";
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (ws && ws.readyState === 1 && now - typedAt > 2000) {
        typedAt = now;
        ws.send(JSON.stringify({ type: "typing", c: selected }));
      }
    });
  }
  connect();
})();
