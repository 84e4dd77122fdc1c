// Preload TFMA's Polymer bundle as a plain script with AMD hidden, so its
// bundled d3 UMD code does not call requirejs' define() ("Mismatched
// anonymous define() module"), which randomly breaks TFMA widget creation.
define([], function() {
  function load_ipython_extension() {
    var src = (document.body.getAttribute('data-base-url') || '/') +
        'nbextensions/tensorflow_model_analysis/vulcanized_tfma.js';
    if (document.querySelector('script[src="' + src + '"]')) return;
    var amd = window.define && window.define.amd;
    if (amd) window.define.amd = undefined;
    var s = document.createElement('script');
    s.src = src;
    s.onload = s.onerror = function() { if (amd) window.define.amd = amd; };
    document.head.appendChild(s);
  }
  return {load_ipython_extension: load_ipython_extension};
});
