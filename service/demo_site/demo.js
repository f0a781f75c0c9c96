/* The Northwind Motors demo's own script: a product view on the model page, a configure_product event
 * when the visitor configures the car, a thank-you line when a next step is chosen. docs/browser.md */
(function () {
  "use strict";
  var wayfinder = window.wayfinder;
  var page = document.body.getAttribute("data-demo-page");
  var product = document.body.getAttribute("data-demo-product");
  if (!wayfinder) return;

  if (page === "model") {
    wayfinder.track("product_view", { item_id: product });
    var configure = document.getElementById("configure");
    configure.addEventListener("click", function (event) {
      event.preventDefault();
      var gone = false;
      var go = function () {
        if (!gone) location.href = configure.href;
        gone = true;
      };
      wayfinder.track("configure_product", { item_id: product, properties: {
        colour: document.getElementById("colour").value, trim: document.getElementById("trim").value } });
      // the next page's decision should see this event: send it now, then go (whatever the answer, and
      // after two seconds at most: a demo never waits on the service)
      wayfinder.flush().then(go, go);
      setTimeout(go, 2000);
    });
  }

  if (page === "next") {
    document.getElementById("next-steps").addEventListener("click", function (event) {
      var chosen = event.target.closest("[data-wayfinder-item]");
      if (chosen) document.getElementById("status").textContent = "Thanks: " + chosen.textContent + ". A dealer will call you.";
    });
  }
})();
