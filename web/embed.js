/* Paste on a partner website:
   <script src="https://YOUR-CHAT-HOST/embed.js" async></script>
   It adds one link that opens the chat in a new tab. The chat runs on its own site, so it
   keeps its quick exit and leaves nothing on the device; the partner page stores nothing. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src).origin;
  var link = document.createElement("a");
  link.href = origin + "/";
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = "Worried about modern slavery? Chat for help";
  link.setAttribute("data-modern-slavery-chat", "");
  var s = link.style;
  s.position = "fixed"; s.right = "16px"; s.bottom = "16px"; s.zIndex = "2147483647";
  s.display = "inline-block"; s.minHeight = "44px"; s.padding = "12px 16px";
  s.background = "#1d70b8"; s.color = "#ffffff"; s.font = "bold 16px/1.25 Arial, sans-serif";
  s.borderRadius = "4px"; s.textDecoration = "underline"; s.boxShadow = "0 2px 0 #003078";
  s.maxWidth = "calc(100vw - 32px)";
  link.addEventListener("focus", function () { s.outline = "3px solid #ffdd00"; s.outlineOffset = "0"; s.boxShadow = "0 4px 0 #0b0c0c"; });
  link.addEventListener("blur", function () { s.outline = ""; s.boxShadow = "0 2px 0 #003078"; });
  function add() { document.body.appendChild(link); }
  if (document.body) { add(); } else { document.addEventListener("DOMContentLoaded", add); }
})();
