/* cx: fills [data-cx-proxy] placeholders with fragments fetched through the shop's app
   proxy (same origin, so Shopify signs the request and adds the logged-in customer). */
(function () {
  "use strict";
  var done = new WeakSet();

  function proxyUrl(el, widget, params) {
    var q = new URLSearchParams(params || "");
    var locale = el.getAttribute("data-cx-locale");
    if (locale && !q.has("locale")) q.set("locale", locale);
    Array.prototype.forEach.call(el.attributes, function (a) {
      var m = /^data-cx-param-(.+)$/.exec(a.name);
      if (m && !q.has(m[1])) q.set(m[1], a.value);
    });
    var base = el.getAttribute("data-cx-proxy-base") || "/apps/cx";
    return base + "/" + encodeURIComponent(widget) + "?" + q.toString();
  }

  function show(el, response) {
    if (response.status === 204) {
      el.hidden = true;
      el.setAttribute("data-cx-state", "off");
      return;
    }
    if (!response.ok) throw new Error(String(response.status));
    return response.text().then(function (html) {
      el.innerHTML = html;
      el.hidden = false;
      el.setAttribute("data-cx-state", "ready");
      wire(el);
      var focus = el.querySelector("[data-cx-focus]");
      if (focus && el.getAttribute("data-cx-submitted")) focus.focus();
    });
  }

  function failed(el) {
    return function () {
      el.setAttribute("data-cx-state", "error");
      var text = el.getAttribute("data-cx-error");
      if (text) el.textContent = text;
    };
  }

  function load(el, params) {
    var widget = el.getAttribute("data-cx-proxy");
    return fetch(proxyUrl(el, widget, params), {
      credentials: "same-origin",
      headers: { Accept: "text/html" }
    }).then(function (r) { return show(el, r); }).catch(failed(el));
  }

  function wire(el) {
    el.querySelectorAll("form[data-cx-form]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        el.setAttribute("data-cx-submitted", "1");
        var data = new URLSearchParams(new FormData(form));
        if (form.method.toLowerCase() === "post") {
          // Answers go to the collector itself; only reads need the proxy's customer.
          fetch(form.action, { method: "POST", body: data, credentials: "omit" })
            .then(function (r) { return show(el, r); })
            .catch(failed(el));
        } else {
          load(el, data.toString());
        }
      });
    });
  }

  function scan() {
    document.querySelectorAll("[data-cx-proxy]").forEach(function (el) {
      if (done.has(el)) return;
      done.add(el);
      load(el, el.hasAttribute("data-cx-order-from-url") ? pick(window.location.search) : "");
    });
  }

  function pick(search) {
    // A tracking link from an order email (?order=1001) opens that order directly.
    var q = new URLSearchParams(search);
    var out = new URLSearchParams();
    if (q.get("order")) out.set("order", q.get("order"));
    return out.toString();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  document.addEventListener("shopify:section:load", scan);
  document.addEventListener("shopify:block:select", scan);
})();
