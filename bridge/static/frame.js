// Ask the LMS to size its frame to the page (LTI "lti.frameResize" postMessage; Canvas, Moodle
// and the sandbox honour it). The height is measured from the content, not the viewport, so the
// frame can shrink as well as grow. Harmless when the page is not framed.
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var last = 0;
  function contentHeight() {
    var main = document.getElementById("main") || document.body;
    return Math.ceil(main.getBoundingClientRect().bottom + window.scrollY);
  }
  function send() {
    var height = contentHeight();
    if (height === last) { return; }
    last = height;
    window.parent.postMessage({ subject: "lti.frameResize", height: height }, "*");
  }
  window.addEventListener("load", send);
  if (window.ResizeObserver) { new ResizeObserver(send).observe(document.getElementById("main") || document.body); }
})();
