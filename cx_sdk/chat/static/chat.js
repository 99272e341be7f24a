/* cx live chat panel: runs inside the collector's iframe, loaded only when the visitor opens
   the chat. Every text from the network is rendered with textContent; survey HTML comes from
   our own collector's templates, which escape. */
(function () {
  "use strict";
  var root = document.getElementById("cx-chat");
  var d = root.dataset;
  function $(id) { return document.getElementById(id); }
  var log = $("cx-log"), input = $("cx-input"), typing = $("cx-typing"), error = $("cx-error");
  var badge = $("cx-unread"), email = $("cx-email"), survey = $("cx-survey");
  var KEY = "cx-chat:" + location.pathname;
  var token = null, last = 0, seen = {}, ws = null, retry = 0, unread = 0, pending = [];
  var typingTimer = 0, typedAt = 0, early = "";
  try { token = sessionStorage.getItem(KEY); } catch (e) { token = null; }

  function url() {
    var q = "?locale=" + encodeURIComponent(d.locale);
    if (token) q += "&t=" + encodeURIComponent(token) + "&after=" + last;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + d.socket + q;
  }

  function say(text) { error.textContent = text || ""; }

  function connect() {
    ws = new WebSocket(url());
    ws.onopen = function () {
      retry = 0;
      say("");
      while (pending.length) ws.send(pending.shift());
    };
    ws.onmessage = function (ev) { handle(JSON.parse(ev.data)); };
    ws.onclose = function (ev) {
      ws = null;
      if (ev.code === 4401 || ev.code === 4404) {
        token = null;
        try { sessionStorage.removeItem(KEY); } catch (e) { /* storage off */ }
      } else {
        say(d.tOffline);
      }
      setTimeout(connect, Math.min(15000, 300 * Math.pow(2, retry++)));
    };
  }

  function send(data) {
    var text = JSON.stringify(data);
    if (ws && ws.readyState === 1) ws.send(text);
    else pending.push(text);
  }

  function add(m) {
    if (seen[m.id]) return;
    seen[m.id] = 1;
    last = Math.max(last, m.id);
    var hint = log.querySelector(".hint");
    if (hint) hint.remove();
    var item = document.createElement("div");
    item.className = "msg from-" + m.from;
    var who = document.createElement("span");
    who.className = "sr";
    who.textContent = (m.from === "visitor" ? d.tYou : d.tAgent) + ": ";
    var body = document.createElement("p");
    body.textContent = m.body;
    var at = document.createElement("time");
    at.dateTime = m.at;
    at.textContent = new Date(m.at).toLocaleTimeString(d.locale, { hour: "2-digit", minute: "2-digit" });
    item.appendChild(who);
    item.appendChild(body);
    item.appendChild(at);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    if (m.from !== "visitor") {
      typing.textContent = "";
      // The page's loader counts it on the launcher while the panel is closed.
      if (parent !== window) parent.postMessage({ cx: "unread" }, "*");
      if (document.hidden || !document.hasFocus()) {
        unread++;
        badge.textContent = d.tUnread.replace("{n}", unread);
        badge.hidden = false;
      }
    }
  }

  function note(text) {
    var p = document.createElement("p");
    p.className = "note";
    p.textContent = text;
    log.appendChild(p);
    log.scrollTop = log.scrollHeight;
  }

  function showSurvey(href) {
    fetch(href, { credentials: "omit" }).then(function (r) {
      if (r.status !== 200) return;
      return r.text().then(function (html) {
        survey.innerHTML = html;
        var form = survey.querySelector("form");
        if (!form) return;
        form.addEventListener("submit", function (ev) {
          ev.preventDefault();
          fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "omit" })
            .then(function (r2) { return r2.text(); })
            .then(function (answer) { survey.innerHTML = answer; });
        });
      });
    });
  }

  function handle(m) {
    if (m.type === "msg") add(m);
    else if (m.type === "token") {
      token = m.t;
      try { sessionStorage.setItem(KEY, token); } catch (e) { /* storage off */ }
      if (d.askEmail && !early) email.hidden = false;
    } else if (m.type === "typing") {
      typing.textContent = d.tTyping;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typing.textContent = ""; }, 4000);
    } else if (m.type === "ended") {
      note(d.tEnded);
      if (m.survey) showSurvey(m.survey);
    } else if (m.type === "email_saved") {
      email.hidden = true;
      if (!early) note(d.tEmailSaved);
    } else if (m.type === "error") say(m.error);
  }

  $("cx-send").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    send(early && !token ? { type: "msg", body: body, email: early } : { type: "msg", body: body });
    input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      $("cx-send").requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (token && now - typedAt > 2000) {
      typedAt = now;
      send({ type: "typing" });
    }
  });
  email.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("cx-email-input").value.trim();
    if (token) return send({ type: "email", email: value });
    // Before the first message nothing is sent: the address goes with that message.
    early = value;
    email.hidden = true;
    note(d.tEmailSaved);
  });
  window.addEventListener("focus", function () {
    unread = 0;
    badge.hidden = true;
  });
  if (d.askEmail && !token) email.hidden = false;
  connect();
})();
