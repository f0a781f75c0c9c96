/*! Wayfinder browser snippet: fills [data-wayfinder-placement] elements from decisions, sends page views and
 * clicks. No dependencies, no eval, no inline style: it runs under a strict Content-Security-Policy. docs/browser.md */
(function () {
  "use strict";
  if (window.wayfinder && window.wayfinder.version) return; // loaded twice: the first one serves
  var script = document.currentScript || {};
  var data = script.dataset || {};
  var key = data.key || "";
  var base = data.endpoint || (script.src ? new URL(script.src, location.href).origin : location.origin);
  base = base.replace(/\/+$/, "");
  var timeoutMs = +data.timeout > 0 ? +data.timeout : 800;
  var useLocal = data.storage === "local";
  var needConsent = data.consent === "required";
  var channel = data.channel || "web";
  var VISITOR = "wf_vid";
  var CONSENT = "wf_consent";
  var INCLUDE = ["title", "url", "image", "attributes"];
  var URL_ATTRIBUTES = /^(href|src|srcset|action|formaction|poster|xlink:href|cite|background)$/i;
  var BAD_SCHEME = /^\s*(javascript|vbscript|data):/i;
  var ITEM = "data-wayfinder-item";
  var queue = [];
  var timer = 0;
  var defaults = typeof WeakMap === "function" ? new WeakMap() : null;
  var rounds = typeof WeakMap === "function" ? new WeakMap() : null;

  function debug(what) {
    if (data.debug && window.console) console.warn("wayfinder:", what);
  }

  // --- first-party storage: a cookie by default, localStorage with data-storage="local" ----------
  function readCookie(name) {
    var found = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return found ? decodeURIComponent(found[1]) : null;
  }

  function load(name) {
    try {
      return useLocal ? localStorage.getItem(name) : readCookie(name);
    } catch (e) {
      return null;
    }
  }

  function store(name, value) {
    try {
      if (useLocal) {
        if (value === null) localStorage.removeItem(name);
        else localStorage.setItem(name, value);
        return;
      }
      var secure = location.protocol === "https:" ? "; Secure" : "";
      var age = value === null ? 0 : 395 * 86400;
      document.cookie = name + "=" + encodeURIComponent(value || "") + "; path=/; max-age=" + age + "; SameSite=Lax" + secure;
    } catch (e) {
      debug(e);
    }
  }

  function randomHex(bytes) {
    var values = new Uint8Array(bytes);
    (window.crypto || window.msCrypto).getRandomValues(values);
    return Array.prototype.map.call(values, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function consented() {
    return !needConsent || load(CONSENT) === "1";
  }

  function visitorId() {
    if (!consented()) return null;
    var id = load(VISITOR);
    if (!id || !/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) {
      id = "v_" + randomHex(12);
      store(VISITOR, id);
    }
    return id;
  }

  // --- events: batched, sent as text/plain with ?key= so sendBeacon (no headers) can carry them ----
  function track(type, fields) {
    var visitor = visitorId();
    if (!visitor || !key) return false;
    fields = fields || {};
    var event = { event_id: "e_" + randomHex(12), visitor_id: visitor, type: type, channel: channel,
      timestamp: new Date().toISOString() };
    if (fields.item_id) event.item_id = String(fields.item_id);
    if (fields.decision_id) event.decision_id = String(fields.decision_id);
    if (fields.properties) event.properties = fields.properties;
    queue.push(event);
    if (queue.length >= 20) flush();
    else if (!timer) timer = setTimeout(flush, 1000);
    return true;
  }

  function flush(leaving) {
    clearTimeout(timer);
    timer = 0;
    if (!queue.length) return Promise.resolve(true);
    var batch = queue.splice(0, queue.length);
    var url = base + "/v1/events?key=" + encodeURIComponent(key);
    var body = JSON.stringify({ events: batch });
    if (leaving === true && navigator.sendBeacon) {
      try {
        if (navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) return Promise.resolve(true);
      } catch (e) {
        debug(e);
      }
    }
    try {
      return fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain" } })
        .then(function (answer) {
          if (answer.status >= 500 || answer.status === 429) throw new Error("HTTP " + answer.status);
          return answer.ok;
        })
        .catch(function (e) {
          if (queue.length < 100) queue = batch.concat(queue); // event ids make a resend safe
          debug(e);
          return false;
        });
    } catch (e) {
      debug(e);
      return Promise.resolve(false);
    }
  }

  // --- decisions: one per placement, with a deadline; any failure keeps the default content ------
  function decide(body) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var deadline;
    var late = new Promise(function (_, reject) {
      deadline = setTimeout(function () {
        if (controller) controller.abort();
        reject(new Error("timeout after " + timeoutMs + " ms"));
      }, timeoutMs);
    });
    var call = fetch(base + "/v1/decisions", { method: "POST", body: JSON.stringify(body), credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + key },
      signal: controller ? controller.signal : undefined })
      .then(function (answer) {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      });
    return Promise.race([call, late]).then(
      function (decision) { clearTimeout(deadline); return decision; },
      function (e) { clearTimeout(deadline); throw e; }
    );
  }

  function lookup(item, path) {
    var value = item;
    path.split(".").forEach(function (part) {
      value = value !== null && typeof value === "object" && Object.prototype.hasOwnProperty.call(value, part)
        ? value[part] : undefined;
    });
    return value === null || value === undefined || typeof value === "object" ? "" : String(value);
  }

  function substitute(text, item) {
    return text.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, function (_, path) { return lookup(item, path); });
  }

  function setAttribute(node, name, value) {
    // text only: no event handler, no script URL, no empty link is ever written from data
    if (/^on/i.test(name) || (URL_ATTRIBUTES.test(name) && (!value.trim() || BAD_SCHEME.test(value)))) {
      node.removeAttribute(name);
    } else {
      node.setAttribute(name, value);
    }
  }

  function fill(template, item, position) {
    var copy = template.content.cloneNode(true);
    var walker = document.createTreeWalker(copy, 5); // NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT
    var node;
    while ((node = walker.nextNode())) {
      if (node.nodeType === 3) {
        if (node.nodeValue.indexOf("{{") >= 0) node.nodeValue = substitute(node.nodeValue, item);
        continue;
      }
      for (var i = node.attributes.length - 1; i >= 0; i--) {
        var attribute = node.attributes[i];
        if (attribute.value.indexOf("{{") >= 0) setAttribute(node, attribute.name, substitute(attribute.value, item));
      }
    }
    for (var child = copy.firstElementChild; child; child = child.nextElementSibling) {
      child.setAttribute(ITEM, item.item_id);
      child.setAttribute("data-wayfinder-position", String(position));
    }
    return copy;
  }

  function mark(element, state, decisionId) {
    element.setAttribute("data-wayfinder-state", state);
    if (decisionId) element.setAttribute("data-wayfinder-decision", decisionId);
    else element.removeAttribute("data-wayfinder-decision");
    try {
      element.dispatchEvent(new CustomEvent("wayfinder:" + state, { bubbles: true, detail: { decision_id: decisionId } }));
    } catch (e) {
      debug(e);
    }
  }

  function restoreDefault(element, template) {
    var original = defaults && defaults.get(element);
    if (!original || element.getAttribute("data-wayfinder-state") !== "rendered") return;
    Array.prototype.slice.call(element.childNodes).forEach(function (n) { if (n !== template) element.removeChild(n); });
    element.appendChild(original.cloneNode(true));
  }

  function render(element) {
    var template = element.querySelector(":scope > template");
    if (defaults && !defaults.has(element)) {
      var original = document.createDocumentFragment();
      Array.prototype.forEach.call(element.childNodes, function (n) { if (n !== template) original.appendChild(n.cloneNode(true)); });
      defaults.set(element, original);
    }
    var round = ((rounds && rounds.get(element)) || 0) + 1;
    if (rounds) rounds.set(element, round);
    var current = function () { return !rounds || rounds.get(element) === round; };
    var visitor = visitorId();
    var placement = element.getAttribute("data-wayfinder-placement");
    if (!visitor || !key || !placement || !template) {
      restoreDefault(element, template);
      mark(element, "default");
      return Promise.resolve(false);
    }
    var body = { visitor_id: visitor, placement: placement, include: INCLUDE,
      context: { channel: channel, page: location.pathname.slice(0, 200) } };
    var limit = parseInt(element.getAttribute("data-wayfinder-limit"), 10);
    if (limit > 0) body.limit = limit;
    element.setAttribute("data-wayfinder-state", "loading");
    return decide(body).then(function (decision) {
      if (!current()) return false;
      var items = decision && decision.items;
      if (!items || !items.length) throw new Error("no items for " + placement);
      var filled = document.createDocumentFragment();
      items.forEach(function (item, position) { filled.appendChild(fill(template, item, position)); });
      Array.prototype.slice.call(element.childNodes).forEach(function (n) { if (n !== template) element.removeChild(n); });
      element.appendChild(filled);
      mark(element, "rendered", decision.decision_id);
      return true;
    }).catch(function (e) {
      if (!current()) return false;
      restoreDefault(element, template);
      mark(element, "default");
      debug(e);
      return false;
    });
  }

  function refresh() {
    var elements = document.querySelectorAll("[data-wayfinder-placement]");
    track("page_view", { properties: { path: location.pathname.slice(0, 200) } }); // none before consent
    return Promise.all(Array.prototype.map.call(elements, render)); // the default content before consent
  }

  function consent(given) {
    store(CONSENT, given ? "1" : "0");
    if (given) return refresh();
    queue = [];
    store(VISITOR, null);
    return Promise.resolve([]);
  }

  function onClick(event) {
    var target = event.target;
    var item = target && target.closest ? target.closest("[" + ITEM + "]") : null;
    var element = item && item.closest("[data-wayfinder-decision]");
    if (!element) return;
    track("click", { item_id: item.getAttribute(ITEM), decision_id: element.getAttribute("data-wayfinder-decision"),
      properties: { placement: element.getAttribute("data-wayfinder-placement"),
        position: item.getAttribute("data-wayfinder-position") } });
  }

  document.addEventListener("click", onClick, true);
  window.addEventListener("pagehide", function () { flush(true); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush(true);
  });

  window.wayfinder = { version: "1", refresh: refresh, consent: consent, track: track, flush: flush,
    visitorId: visitorId };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { refresh(); });
  else refresh();
})();
