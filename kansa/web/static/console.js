// kansa console: opens details and the column chooser in a dialog (Esc closes it), and
// keeps the page usable without this script (every dialog link is also a page).
"use strict";

(function () {
  var dialog = document.getElementById("dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var body = dialog.querySelector(".dialog-body");
  var opener = null;

  function fragmentUrl(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("fragment", "1");
    return url.toString();
  }

  function open(link) {
    opener = link;
    fetch(fragmentUrl(link.href), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          window.location.href = link.href;
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        // The server escaped every event field; parse as a document, then move its nodes.
        var parsed = new DOMParser().parseFromString(html, "text/html");
        body.replaceChildren.apply(body, Array.prototype.slice.call(parsed.body.childNodes));
        dialog.showModal();
        var first = dialog.querySelector("[data-close]");
        if (first) first.focus();
      })
      .catch(function () {
        window.location.href = link.href;
      });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-dialog]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.button === 0) {
      event.preventDefault();
      open(link);
      return;
    }
    if (event.target.closest("[data-close]")) dialog.close();
  });

  // A click on the backdrop (outside the dialog box) closes it too.
  dialog.addEventListener("click", function (event) {
    if (event.target === dialog) dialog.close();
  });

  dialog.addEventListener("close", function () {
    body.replaceChildren();
    if (opener) opener.focus();
  });
})();
