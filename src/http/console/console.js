// Tessera console: progressive enhancement only. Every page works without this script.
// "Copy" buttons copy the text of the element their data-copy attribute names; where the
// browser offers no clipboard (plain http on another host) or refuses, the text is selected
// so that Ctrl+C / Cmd+C copies it.
document.addEventListener("click", function (e) {
  var b = e.target.closest("button[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el) return;
  function done(text) {
    b.textContent = text;
    setTimeout(function () { b.textContent = "Copy"; }, 2500);
  }
  function select() {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    done("Selected: press Ctrl+C");
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(el.textContent).then(function () { done("Copied"); }, select);
  } else {
    select();
  }
});
