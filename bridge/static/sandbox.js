// Sandbox LMS: honours the tool's lti.frameResize requests, as Canvas and Moodle do.
(function () {
  "use strict";
  var frame = document.getElementById("tool-frame");
  if (!frame) { return; }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || !data || data.subject !== "lti.frameResize") { return; }
    var height = parseInt(data.height, 10);
    if (height > 0 && height < 20000) { frame.style.height = height + "px"; }
  });
})();
