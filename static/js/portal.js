// Small progressive enhancements; every page works without this file (CSP: no inline scripts).
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches("[data-autosubmit]") && field.form) field.form.requestSubmit();
});
