// The widget shell: calls the widget API with the session token as a bearer token (never in a
// URL) and keeps the renewed token the API hands back.
(function () {
  "use strict";
  var tokenMeta = document.querySelector('meta[name="bridge-session"]');
  var apiMeta = document.querySelector('meta[name="bridge-api"]');
  var status = document.getElementById("api-status");
  if (!tokenMeta || !apiMeta || !status) { return; }
  var token = tokenMeta.getAttribute("content");

  function api(url) {
    return fetch(url, { headers: { "Authorization": "Bearer " + token, "Accept": "application/json" }, credentials: "omit" })
      .then(function (response) {
        var renewed = response.headers.get("X-Bridge-Session");
        if (renewed) { token = renewed; }
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      });
  }

  api(apiMeta.getAttribute("content")).then(function (result) {
    status.textContent = status.getAttribute(result.ok ? "data-ok" : "data-failed");
    status.setAttribute("data-state", result.ok ? "ok" : "failed");
  }).catch(function () {
    status.textContent = status.getAttribute("data-failed");
    status.setAttribute("data-state", "failed");
  });
})();
