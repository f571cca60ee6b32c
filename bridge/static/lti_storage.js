// LTI platform storage (1EdTech "LTI Client Side postMessages"): keeps the OIDC state and nonce in
// the platform's frame when the browser refuses the tool's cookies.
// Login page: lti.capabilities, then lti.put_data for state and nonce, then on to the auth URL.
// Launch page: lti.get_data for both, then post them with the one-time launch id.
// Messages go to the frame named by lti_storage_target (Canvas: "post_message_forwarding") with
// the platform's OIDC auth origin as target origin, falling back to the parent with "*"; each is
// sent under its current name and the older "org.imsglobal." name (Brightspace answers only those).
(function () {
  "use strict";
  var box = document.getElementById("lti-storage");
  if (!box) { return; }
  var data = box.dataset;
  var TIMEOUT_MS = 2000;
  var pending = {};

  function target() {
    if (data.frame === "_parent") { return { win: window.parent, origin: data.origin }; }
    try {
      var named = window.parent.frames[data.frame];
      if (named) { return { win: named, origin: data.origin }; }
    } catch (e) { /* cross-origin access to frames may throw; fall back below */ }
    return { win: window.parent, origin: "*" };
  }
  var to = target();

  window.addEventListener("message", function (event) {
    var reply = event.data;
    if (!reply || typeof reply !== "object" || !pending[reply.message_id]) { return; }
    // Only the platform (its OIDC auth origin) may answer, even when the request went out with "*".
    if (event.source !== to.win || event.origin !== data.origin) { return; }
    var waiter = pending[reply.message_id];
    delete pending[reply.message_id];
    if (reply.error) { waiter.reject(reply.error); } else { waiter.resolve(reply); }
  });

  function send(subject, fields) {
    return new Promise(function (resolve, reject) {
      var id = "sb-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
      pending[id] = { resolve: resolve, reject: reject };
      ["", "org.imsglobal."].forEach(function (prefix) {
        var message = { subject: prefix + subject, message_id: id };
        Object.keys(fields || {}).forEach(function (k) { message[k] = fields[k]; });
        to.win.postMessage(message, to.origin);
      });
      setTimeout(function () {
        if (pending[id]) { delete pending[id]; reject({ code: "timeout", message: subject }); }
      }, TIMEOUT_MS);
    });
  }

  function supportsStorage(reply) {
    return (reply.supported_messages || []).some(function (m) {
      return /(^|\.)lti\.put_data$/.test(m.subject || "");
    });
  }

  function login() {
    var go = function () { window.location.replace(data.continue); };
    send("lti.capabilities").then(function (reply) {
      if (!supportsStorage(reply)) { return go(); }
      return send("lti.put_data", { key: data.stateKey, value: data.state })
        .then(function () { return send("lti.put_data", { key: data.nonceKey, value: data.nonce }); })
        .then(go);
    }).catch(go); // no platform storage: cookies are the only way, carry on
  }

  function launch() {
    var form = document.getElementById("lti-storage-complete");
    var submit = function () { form.submit(); }; // on failure the server answers with a clear page
    send("lti.get_data", { key: data.stateKey }).then(function (reply) {
      form.elements.state.value = reply.value || "";
      return send("lti.get_data", { key: data.nonceKey });
    }).then(function (reply) {
      form.elements.nonce.value = reply.value || "";
    }).then(submit, submit);
  }

  if (data.mode === "login") { login(); } else { launch(); }
})();
