/* Login: the API sets the HttpOnly session cookie; then to the page asked for, or the
   one of the role. */
"use strict";
(function () {
  var form = document.getElementById("form-connexion");
  var error = document.getElementById("erreur-connexion");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    error.hidden = true;
    var username = form.elements.username.value.trim();
    var password = form.elements.password.value;
    if (!username || !password) {
      error.textContent = "Saisissez votre identifiant et votre mot de passe.";
      error.hidden = false;
      return;
    }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    G.api("POST", "/api/v1/auth/login", { username: username, password: password }).then(function (data) {
      var suite = form.getAttribute("data-suite");
      if (!suite) suite = data.user.role === "operator" ? "/console" : "/console/supervision";
      window.location.assign(suite);
    }, function (err) {
      button.disabled = false;
      error.textContent = err.status === 401 || err.status === 403 || err.status === 422
        ? "Identifiant ou mot de passe incorrect."
        : "Connexion impossible pour le moment (" + err.message + ").";
      error.hidden = false;
      form.elements.password.value = "";
      form.elements.password.focus();
    });
  });
})();
