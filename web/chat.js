/* Website chat for the triage bot. The conversation lives only in this page's memory: nothing is
   written to cookies, localStorage, sessionStorage, IndexedDB or caches, and reloading ends it.
   Every text is shown with textContent; only https: and tel: links are made.
   Languages: each message and button in another language carries its lang (and dir="rtl" for
   right-to-left scripts); the picker and the conversation's language (a message's `language`)
   add the header's lines and the exit label in that language under the English ones. */
(function () {
  "use strict";

  var HELP_NUMBERS = "If you are in danger now, call 999. To talk to a person, call the Modern " +
    "Slavery & Exploitation Helpline on 08000 121 700 (free, 24 hours).";
  var FAILED = "Sorry, the chat is not working right now. " + HELP_NUMBERS;
  var EXIT_TIMEOUT_MS = 5000;

  var ENGLISH = "en";
  var LANG_CODE = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
  var LRI = "\u2066", PDI = "\u2069";  // the bot isolates numbers in right-to-left text
  // The page's own words for the header, from /api/languages (English only until it answers).
  var ENGLISH_ONLY = [{ code: ENGLISH, name: "English", dir: "ltr" }];

  // language: the conversation's language; languages: what the picker offers.
  var state = { id: null, busy: false, exiting: false, language: ENGLISH, languages: ENGLISH_ONLY };

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

  // Links are always left to right (dir="ltr" also isolates them), so a number or an address
  // in right-to-left text is never reordered.
  function appendRich(parent, text) {
    var last = 0, match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      var start = match.index, token = match[0], end = start + token.length;
      if (match[2]) {
        var before = start > 0 ? text.charAt(start - 1) : "";
        if (/[\w\/.]/.test(before)) { continue; }  // part of a longer word, number or address
        if (before === LRI && text.charAt(end) === PDI) {
          start -= 1;  // the link isolates the number itself: drop the bot's isolate marks
          end += 1;
        }
      }
      var trail = "";
      if (match[1]) {
        var m = /[.,;:!?)\]]+$/.exec(token);
        if (m) { trail = m[0]; token = token.slice(0, -trail.length); }
      }
      parent.appendChild(document.createTextNode(text.slice(last, start)));
      var link = document.createElement("a");
      link.dir = "ltr";
      if (match[1]) {
        var href = safeHttps(token);
        if (!href) { parent.appendChild(document.createTextNode(token + trail)); last = end; continue; }
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
      last = end;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function isEnglish(code) { return !code || code === ENGLISH || code.indexOf(ENGLISH + "-") === 0; }

  // lang and dir of something in another language (WCAG 3.1.2); dir "auto" for what the user
  // typed, whose language the page does not know.
  function setLanguage(element, lang, dir) {
    if (typeof lang === "string" && LANG_CODE.test(lang)) { element.setAttribute("lang", lang); }
    if (dir === "rtl" || dir === "ltr" || dir === "auto") { element.setAttribute("dir", dir); }
  }

  // The English title of a translated button (or answer), as a smaller second line.
  function appendEnglish(parent, english, title) {
    if (typeof english !== "string" || !english || english === title) { return; }
    parent.appendChild(document.createTextNode(" "));  // a space in the accessible name
    var line = document.createElement("span");
    line.className = "english-line";
    setLanguage(line, ENGLISH, "ltr");
    line.textContent = english;
    parent.appendChild(line);
  }

  // kind: "bot", "user" or "error"; said: {text, lang, dir, english} (lang, dir, english optional).
  function addMessage(kind, said) {
    var log = document.getElementById("log");
    var item = document.createElement("div");
    item.className = "msg msg-" + kind;
    setLanguage(item, said.lang, said.dir);
    var who = document.createElement("span");
    who.className = kind === "user" ? "visually-hidden" : "who visually-hidden";
    who.textContent = kind === "user" ? "You said: " : "Assistant: ";
    if (!isEnglish(item.getAttribute("lang") || "")) { setLanguage(who, ENGLISH, "ltr"); }
    item.appendChild(who);
    if (kind === "user") {
      item.appendChild(document.createTextNode(said.text));
      appendEnglish(item, said.english, said.text);
    } else {
      appendRich(item, said.text);
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
      setLanguage(button, b.lang, b.dir);
      button.appendChild(document.createTextNode(b.title));
      appendEnglish(button, b.english, b.title);
      var shown = { text: b.title, lang: b.lang, dir: b.dir, english: b.english };
      button.addEventListener("click", function () { send(b.payload, shown); });
      group.appendChild(button);
    });
    log.appendChild(group);
  }

  function showReplies(replies) {
    var language = null;
    replies.forEach(function (r) {
      if (typeof r.text === "string" && r.text) {
        addMessage("bot", { text: r.text, lang: r.lang, dir: r.dir });
      }
      if (Array.isArray(r.buttons) && r.buttons.length) { addButtons(r.buttons); }
      if (typeof r.language === "string" && LANG_CODE.test(r.language)) { language = r.language; }
    });
    if (language) { setConversationLanguage(language); }
    var log = document.getElementById("log");
    log.scrollTop = log.scrollHeight;
  }

  function showFailure() {
    var item = addMessage("error", { text: FAILED });
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

  // shown: what the log shows as the user's message ({text, lang, dir, english}), or null.
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

  // --- Languages: the picker and the header -----------------------------------------------
  function languageOf(code) {
    for (var i = 0; i < state.languages.length; i++) {
      if (state.languages[i].code === code) { return state.languages[i]; }
    }
    return null;
  }

  // Show `text` (the page's words in language `lang`) in `element`, or hide it when null.
  function showTranslated(element, lang, text, rich) {
    element.textContent = "";
    element.removeAttribute("lang");
    element.removeAttribute("dir");
    if (!lang || typeof text !== "string" || !text) { element.hidden = true; return; }
    setLanguage(element, lang.code, lang.dir === "rtl" ? "rtl" : "ltr");
    if (rich) { appendRich(element, text); } else { element.textContent = text; }
    element.hidden = false;
  }

  // The header's danger line, helpline line, exit label and picker label in the conversation's
  // language, under the English (which is always there, in the page's own HTML).
  function showHeaderLanguage() {
    var lang = isEnglish(state.language) ? null : languageOf(state.language);
    var words = lang || {};
    showTranslated(document.getElementById("danger-translated"), lang, words.danger_line, true);
    showTranslated(document.getElementById("helpline-translated"), lang, words.helpline_line, true);
    showTranslated(document.getElementById("exit-translated"), lang, words.exit_label, false);
    showTranslated(document.getElementById("language-label-translated"), lang,
                   words.language_label, false);
    var select = document.getElementById("language-select");
    if (languageOf(state.language)) { select.value = state.language; }
    else if (isEnglish(state.language)) { select.value = ENGLISH; }
  }

  function setConversationLanguage(code) {
    state.language = code;
    showHeaderLanguage();
  }

  function fillPicker(languages) {
    var select = document.getElementById("language-select");
    select.textContent = "";
    languages.forEach(function (lang) {
      var option = document.createElement("option");
      option.value = lang.code;
      option.textContent = lang.name;
      setLanguage(option, lang.code, lang.dir === "rtl" ? "rtl" : null);
      select.appendChild(option);
    });
    state.languages = languages;
    showHeaderLanguage();
    document.getElementById("language-picker").hidden = false;
  }

  function loadLanguages() {
    fetch("/api/languages", { credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (!Array.isArray(data)) { throw new Error("bad answer"); }
        var languages = data.filter(function (lang) {
          return lang && typeof lang.code === "string" && LANG_CODE.test(lang.code) &&
            typeof lang.name === "string" && lang.name;
        });
        if (!languages.length || languages[0].code !== ENGLISH) { throw new Error("no English"); }
        fillPicker(languages);
      })
      .catch(function () { fillPicker(ENGLISH_ONLY); });
  }

  // keyStep: a key pressed in the picker may be changing its value; pendingChoice: it did.
  var keyStep = false, pendingChoice = false;

  // Choosing a language tells the bot (the log shows the choice in its own script). With the
  // mouse or a touch screen that is one change; with the keyboard, some browsers (Chromium on
  // Linux and Windows) change the value at each arrow key, so a choice made with the keys is
  // sent on Enter or on leaving the list, not at every step.
  function choose() {
    var select = document.getElementById("language-select");
    var lang = languageOf(select.value);
    pendingChoice = false;
    if (!lang || lang.code === state.language) { return; }
    setConversationLanguage(lang.code);
    send('/choose_language{"language": "' + lang.code + '"}',
         { text: lang.name, lang: lang.code, dir: lang.dir === "rtl" ? "rtl" : null });
  }

  function startPicker() {
    var select = document.getElementById("language-select");
    select.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        choose();
        return;
      }
      if (event.key !== "Tab" && event.key !== "Shift" && !event.altKey) {
        keyStep = true;  // an arrow, Home, End, Page Up/Down or a letter may change the value
        setTimeout(function () { keyStep = false; }, 0);
      }
    });
    select.addEventListener("change", function () {
      if (keyStep) { pendingChoice = true; } else { choose(); }
    });
    select.addEventListener("blur", function () { if (pendingChoice) { choose(); } });
    loadLanguages();
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
      send(text, { text: text, dir: "auto" });
    });
    startPicker();
    send("/greet", null);  // the bot's welcome and first question
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
