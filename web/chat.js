/* Website chat for the triage bot. The conversation lives only in this page's memory: nothing is
   written to cookies, localStorage, sessionStorage, IndexedDB or caches, and reloading ends it.
   Every text is shown with textContent; only https: and tel: links are made. */
(function () {
  "use strict";

  var HELP_NUMBERS = "If you are in danger now, call 999. To talk to a person, call the Modern " +
    "Slavery & Exploitation Helpline on 08000 121 700 (free, 24 hours).";
  var FAILED = "Sorry, the chat is not working right now. " + HELP_NUMBERS;
  var EXIT_TIMEOUT_MS = 5000;

  var state = { id: null, busy: false, exiting: false };

  // --- Quick exit ("Exit this page", after the GOV.UK component) --------------------------
  var exitButton, exitStatus, exitDots;
  var shiftCount = 0, shiftTimer = null, comboKey = false;

  function exitPage() {
    if (state.exiting) { return; }
    state.exiting = true;
    document.documentElement.classList.add("exiting");  // blank the page at once
    document.title = "Loading";
    var log = document.getElementById("log");
    if (log) { log.textContent = ""; }
    state.id = null;
    window.location.replace(exitButton.href);  // replaces this page in the history
  }

  function showDots(n) {
    for (var i = 0; i < exitDots.length; i++) { exitDots[i].classList.toggle("on", i < n); }
  }

  function resetShift(expired) {
    shiftCount = 0;
    showDots(0);
    if (shiftTimer) { clearTimeout(shiftTimer); shiftTimer = null; }
    if (expired) { exitStatus.textContent = "Exit this page expired."; }
  }

  function onKeyDown(event) {
    if (event.key !== "Shift") {
      comboKey = true;
      if (shiftCount) { resetShift(false); }
    } else {
      comboKey = false;
    }
  }

  function onKeyUp(event) {
    if (event.key !== "Shift") { return; }
    if (comboKey) { comboKey = false; return; }  // Shift was part of a Shift+key combination
    shiftCount += 1;
    showDots(shiftCount);
    if (shiftTimer) { clearTimeout(shiftTimer); }
    if (shiftCount >= 3) {
      exitStatus.textContent = "Loading.";
      exitPage();
      return;
    }
    var left = 3 - shiftCount;
    exitStatus.textContent = "Shift, press " + left + " more time" + (left === 1 ? "" : "s") + " to exit.";
    shiftTimer = setTimeout(function () { resetShift(true); }, EXIT_TIMEOUT_MS);
  }

  // --- Rendering --------------------------------------------------------------------------
  // Web links (https only) and UK phone numbers said in bot text.
  var TOKEN = /(https:\/\/[^\s<>"']+)|((?:18001 101)|(?:0\d{3,4}(?: \d{2,4}){1,3})|(?:0\d{9,10})|(?:999)|(?:101)|(?:18000)|(?:116 123))(?![\d])/g;

  function safeHttps(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function appendRich(parent, text) {
    var last = 0, match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      var start = match.index, token = match[0];
      if (match[2]) {
        var before = start > 0 ? text.charAt(start - 1) : "";
        if (/[\w\/.]/.test(before)) { continue; }  // part of a longer word, number or address
      }
      var trail = "";
      if (match[1]) {
        var m = /[.,;:!?)\]]+$/.exec(token);
        if (m) { trail = m[0]; token = token.slice(0, -trail.length); }
      }
      parent.appendChild(document.createTextNode(text.slice(last, start)));
      var link = document.createElement("a");
      if (match[1]) {
        var href = safeHttps(token);
        if (!href) { parent.appendChild(document.createTextNode(token + trail)); last = start + match[0].length; continue; }
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        link.textContent = token;
        var hint = document.createElement("span");
        hint.className = "visually-hidden";
        hint.textContent = " (opens in a new tab)";
        link.appendChild(hint);
      } else {
        link.href = "tel:" + token.replace(/\s+/g, "");
        link.textContent = token;
      }
      parent.appendChild(link);
      if (trail) { parent.appendChild(document.createTextNode(trail)); }
      last = start + match[0].length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function addMessage(kind, text) {
    var log = document.getElementById("log");
    var item = document.createElement("div");
    item.className = "msg msg-" + kind;
    var who = document.createElement("span");
    who.className = kind === "user" ? "visually-hidden" : "who visually-hidden";
    who.textContent = kind === "user" ? "You said: " : "Assistant: ";
    item.appendChild(who);
    if (kind === "user") {
      item.appendChild(document.createTextNode(text));
    } else {
      appendRich(item, text);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addButtons(buttons) {
    var log = document.getElementById("log");
    var group = document.createElement("div");
    group.className = "buttons";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choose an answer");
    buttons.forEach(function (b) {
      if (typeof b.title !== "string" || typeof b.payload !== "string") { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = b.title;
      button.addEventListener("click", function () { send(b.payload, b.title); });
      group.appendChild(button);
    });
    log.appendChild(group);
  }

  function showReplies(replies) {
    replies.forEach(function (r) {
      if (typeof r.text === "string" && r.text) { addMessage("bot", r.text); }
      if (Array.isArray(r.buttons) && r.buttons.length) { addButtons(r.buttons); }
    });
    var log = document.getElementById("log");
    log.scrollTop = log.scrollHeight;
  }

  function showFailure() {
    var item = addMessage("error", FAILED);
    item.setAttribute("data-chat-error", "");
  }

  // --- Talking to the server --------------------------------------------------------------
  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  function ensureSession() {
    if (state.id) { return Promise.resolve(state.id); }
    return post("/api/session", {}).then(function (data) {
      if (!data || typeof data.id !== "string") { throw new Error("no id"); }
      state.id = data.id;
      return state.id;
    });
  }

  function setBusy(busy) {
    state.busy = busy;
    document.getElementById("log").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function send(message, shown) {
    if (state.exiting || !message) { return; }
    if (shown !== null) { addMessage("user", shown); }
    setBusy(true);
    ensureSession()
      .then(function (id) { return post("/api/message", { id: id, message: message }); })
      .then(function (replies) {
        if (!Array.isArray(replies)) { throw new Error("bad answer"); }
        if (!replies.length) { throw new Error("no answer"); }
        showReplies(replies);
      })
      .catch(function () { if (!state.exiting) { showFailure(); } })
      .then(function () { setBusy(false); });
  }

  function start() {
    exitButton = document.getElementById("exit-this-page");
    exitStatus = document.getElementById("exit-status");
    exitDots = document.querySelectorAll(".exit-dots span");
    exitButton.addEventListener("click", function (event) { event.preventDefault(); exitPage(); });
    document.addEventListener("keydown", onKeyDown, true);
    document.addEventListener("keyup", onKeyUp, true);

    var form = document.getElementById("send-form");
    var input = document.getElementById("message");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { input.focus(); return; }
      input.value = "";
      send(text, text);
    });
    send("/greet", null);  // the bot's welcome and first question
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
