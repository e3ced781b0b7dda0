/*
 * Sign-out buttons of the pages without a script of their own: <button data-logout="/where-to-go-after">.
 *
 * POST /api/v1/auth/logout ends the session (the server revokes it and clears the cookies). Like every unsafe
 * request with the session cookie it needs the session's CSRF token in X-CSRF-Token, which GET /api/v1/auth/me
 * gives. Already signed out (401) counts as done. Another refusal is shown in the button's title and the console.
 */
(function () {
  "use strict";

  async function csrfToken() {
    const response = await fetch("/api/v1/auth/me", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) return null;
    if (!response.ok) throw new Error("GET /api/v1/auth/me: HTTP " + response.status);
    const me = await response.json();
    return me.csrf_token || "";
  }

  async function logout(button) {
    button.disabled = true;
    try {
      const token = await csrfToken();
      if (token !== null) {
        const response = await fetch("/api/v1/auth/logout", {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRF-Token": token },
        });
        if (!response.ok && response.status !== 401) {
          throw new Error("POST /api/v1/auth/logout: HTTP " + response.status);
        }
      }
    } catch (exc) {
      console.warn("xueliang: sign-out failed", exc);
      button.title = String(exc.message || exc);
      button.disabled = false;
      return;
    }
    const target = button.dataset.logout || "/login";
    window.location.assign(target.startsWith("/") && !target.startsWith("//") ? target : "/login");
  }

  for (const button of document.querySelectorAll("[data-logout]")) {
    button.addEventListener("click", () => logout(button));
  }
})();
