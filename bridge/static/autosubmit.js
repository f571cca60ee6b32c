// Submits forms marked data-autosubmit (OIDC and launch hand-offs); the button stays for no-JS users.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form) { form.submit(); }
})();
