// LTI Dynamic Registration 1.0 §3 (step 4, registration completed): tell the platform that opened
// the registration page that it may close it. The target is "*" as the spec shows: the message
// carries nothing secret, and the platform's origin is not known to this page.
(function () {
  "use strict";
  var platform = window.opener || (window.parent !== window ? window.parent : null);
  if (platform) { platform.postMessage({ subject: "org.imsglobal.lti.close" }, "*"); }
})();
