/* Formulaire de contact : place le focus sur le récapitulatif des erreurs après un envoi
   refusé (le formulaire fonctionne entièrement sans JavaScript). */
(function () {
  'use strict';
  var erreurs = document.getElementById('erreurs');
  if (erreurs) { erreurs.focus(); }
}());
