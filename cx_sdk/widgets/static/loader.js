/* cx widget loader: fills <div data-cx-widget="…"> placeholders with server-rendered
   fragments. No cookies, no storage, no inline script; click reports only after consent. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.cx && window.cx.loaded) return;
  var base = me.src.replace(/\/loader\.js(?:[?#].*)?$/, "");
  var root = base.replace(/\/[^\/]+$/, "");
  var nonce = me.nonce || me.getAttribute("nonce") || "";
  var consent = me.getAttribute("data-cx-consent") === "granted";
  var wired = new WeakSet();
  var counts = new WeakMap();
  var origin = new URL(base, location.href).origin;

  function baseFor(el) {
    var shop = el.getAttribute("data-cx-shop");
    return shop ? root + "/" + encodeURIComponent(shop) : base;
  }

  function css(url) {
    if (document.querySelector('link[data-cx-css="' + url + '"]')) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = url + "/widgets.css";
    link.setAttribute("data-cx-css", url);
    if (nonce) link.nonce = nonce;
    document.head.appendChild(link);
  }

  function query(el) {
    var q = new URLSearchParams();
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      var m = /^data-cx-(.+)$/.exec(a.name);
      if (m && m[1] !== "widget" && m[1] !== "shop" && m[1] !== "state") q.set(m[1], a.value);
    }
    if (!q.has("locale") && document.documentElement.lang) q.set("locale", document.documentElement.lang);
    return q;
  }

  function show(el, response, focus) {
    if (response.status === 204) {
      el.innerHTML = "";
      el.hidden = true;
      el.setAttribute("data-cx-state", "off");
      return null;
    }
    if (!response.ok) throw new Error("cx: " + response.status);
    return response.text().then(function (html) {
      el.hidden = false;
      el.innerHTML = html;
      el.setAttribute("data-cx-state", "ready");
      wire(el);
      var target = focus && el.querySelector("[data-cx-focus]");
      if (target) target.focus();
    });
  }

  function failed(el) {
    return function () { el.setAttribute("data-cx-state", "error"); };
  }

  function load(el, url, focus) {
    return fetch(url, { credentials: "omit", headers: { Accept: "text/html" } })
      .then(function (r) { return show(el, r, focus); })
      .catch(failed(el));
  }

  function report(el, node, action) {
    if (!consent || !action) return;
    var holder = node.closest("[data-cx-token]");
    if (!holder) return;
    var body = JSON.stringify({ t: holder.getAttribute("data-cx-token"), action: action });
    var url = baseFor(el) + "/events";
    if (navigator.sendBeacon) navigator.sendBeacon(url, body);
    else fetch(url, { method: "POST", body: body, credentials: "omit", keepalive: true });
  }

  // A widget may keep its [data-cx-panel] alive while closed (the chat: its socket stays
  // open): [data-cx-hide] forms hide it, the [data-cx-show] button shows it again. While it is
  // hidden, the panel's frame counts its news through postMessage into [data-cx-unread];
  // only in memory, nothing is stored.
  function toggle(el, open) {
    el.querySelectorAll("[data-cx-panel]").forEach(function (p) { p.hidden = !open; });
    el.querySelectorAll("[data-cx-show]").forEach(function (b) { b.hidden = open; });
    if (open) unread(el, 0);
    var target = el.querySelector(open ? "[data-cx-focus]" : "[data-cx-show]");
    if (target) target.focus();
  }

  function unread(el, n) {
    counts.set(el, n);
    var badge = el.querySelector("[data-cx-unread]");
    if (!badge) return;
    var label = badge.querySelector("[data-cx-unread-label]");
    badge.querySelector("[data-cx-unread-count]").textContent = n;
    label.textContent = n === 1 ? label.getAttribute("data-one") : label.getAttribute("data-many").replace("{n}", n);
    badge.hidden = !n;
  }

  window.addEventListener("message", function (ev) {
    if (ev.origin !== origin || !ev.data || ev.data.cx !== "unread") return;
    document.querySelectorAll("[data-cx-widget] [data-cx-panel] iframe").forEach(function (frame) {
      if (frame.contentWindow !== ev.source || !frame.closest("[data-cx-panel]").hidden) return;
      var el = frame.closest("[data-cx-widget]");
      unread(el, (counts.get(el) || 0) + 1);
    });
  });

  function wire(el) {
    if (wired.has(el.firstElementChild || el)) return;
    wired.add(el.firstElementChild || el);
    el.querySelectorAll("[data-cx-show]").forEach(function (button) {
      button.addEventListener("click", function () { toggle(el, true); });
    });
    el.querySelectorAll("form[data-cx-form]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (form.hasAttribute("data-cx-hide") && el.querySelector("[data-cx-panel]")) return toggle(el, false);
        var data = new URLSearchParams(new FormData(form));
        report(el, form, form.getAttribute("data-cx-action"));
        if (form.method.toLowerCase() === "post") {
          fetch(form.action, { method: "POST", body: data, credentials: "omit" })
            .then(function (r) { return show(el, r, true); })
            .catch(failed(el));
        } else {
          load(el, form.action + "?" + data.toString(), true);
        }
      });
    });
    el.querySelectorAll("[data-cx-track]").forEach(function (node) {
      node.addEventListener("click", function () {
        report(el, node, node.getAttribute("data-cx-track"));
      });
    });
  }

  function outermost(el) {
    return !(el.parentElement && el.parentElement.closest("[data-cx-widget]"));
  }

  function scan() {
    // Fragments a shop rendered on its server (e.g. the WordPress plugin) arrive "ready":
    // left as they are, only their forms and links are wired.
    document.querySelectorAll('[data-cx-widget][data-cx-state="ready"]').forEach(function (el) {
      if (outermost(el)) wire(el);
    });
    document.querySelectorAll("[data-cx-widget]:not([data-cx-state])").forEach(function (el) {
      if (el.closest(".cx-w")) return;
      var name = el.getAttribute("data-cx-widget");
      if (!/^[a-z][a-z0-9_-]*$/.test(name)) return;
      el.setAttribute("data-cx-state", "loading");
      var url = baseFor(el);
      css(url);
      load(el, url + "/" + name + "?" + query(el).toString(), false);
    });
  }

  window.cx = {
    loaded: true,
    scan: scan,
    consent: function (granted) { consent = !!granted; }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
})();
