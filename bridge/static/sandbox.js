// Sandbox LMS, platform side of the tool frame's postMessages:
// - lti.frameResize: size the frame as Canvas and Moodle do;
// - lti.capabilities / lti.put_data / lti.get_data (and their "org.imsglobal." names): the LTI
//   platform storage, kept per tool origin for the life of this page, as the 1EdTech client-side
//   postMessage spec describes. Answers go back to the sender's origin only.
(function () {
  "use strict";
  var frame = document.getElementById("tool-frame");
  if (!frame) { return; }
  var store = {};
  var SUPPORTED = ["lti.capabilities", "lti.put_data", "lti.get_data", "lti.frameResize"];

  function answer(event, prefix, base, fields) {
    var reply = { subject: prefix + base + ".response", message_id: event.data.message_id };
    Object.keys(fields).forEach(function (k) { reply[k] = fields[k]; });
    event.source.postMessage(reply, event.origin);
  }

  function storage(event, prefix, base) {
    var data = event.data;
    var mine = store[event.origin] = store[event.origin] || {};
    if (base === "lti.capabilities") {
      return answer(event, prefix, base, { supported_messages: SUPPORTED.map(function (s) { return { subject: s }; }) });
    }
    if (typeof data.key !== "string" || !data.key) {
      return answer(event, prefix, base, { error: { code: "bad_request", message: "key is required" } });
    }
    if (base === "lti.put_data") {
      mine[data.key] = data.value;
      return answer(event, prefix, base, { key: data.key, value: data.value });
    }
    if (!(data.key in mine)) {
      return answer(event, prefix, base, { key: data.key, error: { code: "bad_request", message: "no such key" } });
    }
    answer(event, prefix, base, { key: data.key, value: mine[data.key] });
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || !data || typeof data.subject !== "string") { return; }
    var prefix = data.subject.indexOf("org.imsglobal.") === 0 ? "org.imsglobal." : "";
    var base = data.subject.slice(prefix.length);
    if (base === "lti.frameResize") {
      var height = parseInt(data.height, 10);
      if (height > 0 && height < 20000) { frame.style.height = height + "px"; }
      return;
    }
    if (["lti.capabilities", "lti.put_data", "lti.get_data"].indexOf(base) >= 0 && data.message_id) {
      storage(event, prefix, base);
    }
  });
})();
