// Ask the LMS to size its frame to the page (LTI "lti.frameResize" postMessage; Canvas, Moodle
// and the sandbox honour it). Harmless when the page is not framed.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function send() {
    var height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) { return; }
    last = height;
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  window.addEventListener("load", send);
  if (window.ResizeObserver) { new ResizeObserver(send).observe(document.documentElement); }
})();
