/*
 * The sign-in page (/login).
 *
 * Flow: POST /api/v1/auth/login {username, password}; the server sets the HTTP-only session cookie and answers
 * {user, csrf_token}; the page then replaces itself with <body data-next> (a same-origin path the server has
 * already checked; checked again here). A refusal shows the server's message and keeps the page: 401 wrong
 * username or password, 423 locked (with the time it unlocks, in the browser's time zone), 403 disabled, 503 the
 * audit log is unavailable. Already signed in: the page says who, with "continue" and "sign out".
 *
 * For tests and for people with devtools: window.xueliangLogin = {state, error, user} and <body
 * data-state="idle|submitting|refused|signed-in">. What it shares with the player comes from page.js.
 */
(function () {
  "use strict";

  const MESSAGES = {
    "zh-CN": {
      http: "登录失败，HTTP 状态码 ",
      unlock: "解锁时间（本地时间）：",
    },
    en: {
      http: "signing in failed with HTTP status ",
      unlock: "Unlocks at (local time): ",
    },
  };

  const page = window.xueliangPage;
  const body = document.body;
  const lang = page.lang;
  const text = page.texts(MESSAGES);
  const byId = page.byId;
  const form = byId("login-form");
  const username = byId("username");
  const password = byId("password");
  const submitButton = byId("submit");
  const errorBox = byId("error");
  const unlockBox = byId("unlock");

  const login = { state: "idle", error: null, user: null };
  window.xueliangLogin = login;

  function sameOriginPath(value) {
    // the server checked it; a second look costs nothing ("//host", "\\host" and "scheme:" leave the origin)
    if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//")) return "/";
    if (value.includes("\\") || /[\u0000-\u001f\u007f]/.test(value)) return "/";
    return value;
  }
  const next = sameOriginPath(body.dataset.next);

  function setState(state, error) {
    login.state = state;
    login.error = error === undefined ? null : error;
    body.dataset.state = state;
    errorBox.hidden = login.error === null;
    errorBox.textContent = login.error === null ? "" : login.error;
  }

  function showUnlock(lockedUntil) {
    const until = lockedUntil ? new Date(lockedUntil) : null;
    if (until === null || Number.isNaN(until.getTime())) {
      unlockBox.hidden = true;
      unlockBox.removeAttribute("data-until");
      return;
    }
    unlockBox.dataset.until = lockedUntil;
    unlockBox.textContent = text("unlock") + until.toLocaleString(lang);
    unlockBox.hidden = false;
  }

  async function submit(event) {
    event.preventDefault();
    if (login.state === "submitting") return;
    setState("submitting");
    showUnlock(null);
    submitButton.disabled = true;
    let response;
    try {
      response = await fetch("/api/v1/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": lang },
        body: JSON.stringify({ username: username.value.trim(), password: password.value }),
      });
    } catch (exc) {
      submitButton.disabled = false;
      setState("refused", text("network") + exc.message);
      return;
    }
    const answer = await page.readJson(response);
    if (response.ok) {
      login.user = answer && answer.user ? answer.user : null;
      setState("signed-in");
      window.location.replace(next);
      return;
    }
    submitButton.disabled = false;
    setState("refused", page.errorMessage(response.status, answer, text("http")));
    if (response.status === 423 && answer && answer.detail) showUnlock(answer.detail.locked_until);
    password.value = "";
    password.focus();
  }

  async function showCurrentUser() {
    // best effort: someone already signed in sees who, and may continue or sign out
    try {
      const response = await page.me();
      if (!response.ok) return;
      const me = await response.json();
      login.user = me;
      byId("current-user").textContent = me.name + (me.unit_code ? " · " + me.unit_code : "");
      byId("signed-in").hidden = false;
    } catch (exc) {
      console.info("xueliang login: not signed in", exc);
    }
  }

  form.addEventListener("submit", submit);
  setState("idle");
  showCurrentUser();
})();
