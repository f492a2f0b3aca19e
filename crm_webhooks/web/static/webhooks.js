// The webhooks page's row menus, copy buttons and the form's examples. Served as a file: the page's
// policy allows no inline script. Without it the page still works: a menu (<details>) opens and
// closes on its own button, a secret is plain text to select, and an example's text is there to copy.
(function () {
  "use strict";

  function openMenus() {
    return Array.prototype.slice.call(document.querySelectorAll("details.menu[open]"));
  }

  function entries(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".items a, .items button"));
  }

  function close(menu, refocus) {
    menu.open = false;
    if (refocus) menu.querySelector("summary").focus();
  }

  // Open downwards, unless that runs past the bottom of the window and there is room above.
  function place(menu) {
    menu.classList.remove("up");
    var box = menu.querySelector(".items").getBoundingClientRect();
    if (box.bottom > window.innerHeight && box.top - box.height > 0) menu.classList.add("up");
  }

  // One menu open at a time; focus goes into the one that opened. (toggle does not bubble: capture it.)
  document.addEventListener(
    "toggle",
    function (event) {
      var menu = event.target;
      if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("menu") || !menu.open) return;
      openMenus().forEach(function (other) {
        if (other !== menu) close(other, false);
      });
      place(menu);
      entries(menu)[0].focus();
    },
    true
  );

  // A click anywhere outside an open menu closes it.
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) close(menu, false);
    });
  });

  // Tabbing out of a menu closes it too.
  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest && event.target.closest("details.menu[open]");
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) close(menu, false);
  });

  // Escape closes and gives focus back to the menu's button; the arrow keys move between entries.
  document.addEventListener("keydown", function (event) {
    var inside = document.activeElement && document.activeElement.closest("details.menu[open]");
    if (event.key === "Escape") {
      var menu = inside || openMenus()[0];
      if (menu) {
        close(menu, true);
        event.preventDefault();
      }
      return;
    }
    if (!inside || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    var list = entries(inside);
    var at = list.indexOf(document.activeElement) + (event.key === "ArrowDown" ? 1 : -1);
    list[(at + list.length) % list.length].focus();
    event.preventDefault();
  });

  // Copy buttons: <button class="copy" data-copy="ID" hidden>, shown only where this script runs.
  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range); // selected either way, so Ctrl+C works if the clipboard is refused
    var done = function () {
      button.textContent = button.dataset.done;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(done, function () {});
    } else if (document.execCommand("copy")) {
      done();
    }
  }

  // Buttons that only work with this script are hidden in the page, and shown here.
  function offer(selector, action) {
    document.querySelectorAll(selector).forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        action(button);
      });
    });
  }

  offer("button.copy[data-copy]", copy);

  // "Use this example": the example's text into the body's box (without script it is there to copy).
  offer("button.use-example[data-example]", function (button) {
    var box = document.getElementById("body_template");
    box.value = document.getElementById(button.dataset.example).textContent;
    box.focus();
    box.setSelectionRange(0, 0);
    box.scrollTop = 0;
  });
  // "Add Webhook" goes once: a second click while the first is on its way would make a second hook.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
})();
