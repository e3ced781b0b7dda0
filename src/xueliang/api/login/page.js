/*
 * What the scripts of the browser pages share (the sign-in page, the player), loaded before them:
 * window.xueliangPage = {lang, byId, texts, readJson, errorMessage, me}.
 */
(function () {
  "use strict";

  const MESSAGES = {
    "zh-CN": { network: "无法连接服务器：" },
    en: { network: "cannot reach the server: " },
  };

  const lang = document.documentElement.lang === "en" ? "en" : "zh-CN";

  // text(key) for a page's own messages (then these shared ones) in the page's language; the key when none
  function texts(messages) {
    return (key) => messages[lang][key] || MESSAGES[lang][key] || key;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (exc) {
      return null;
    }
  }

  function errorMessage(status, answer, httpText) {
    // The platform's errors carry message_zh / message_en; some answers only {"detail": "..."}.
    if (answer && typeof answer.message === "string" && answer.message) {
      return (lang === "en" ? answer.message_en : answer.message_zh) || answer.message;
    }
    if (answer && typeof answer.detail === "string" && answer.detail) return answer.detail;
    if (answer && answer.detail !== undefined && answer.detail !== null) return JSON.stringify(answer.detail);
    return httpText + status;
  }

  function me() {
    // who is signed in (401: nobody), with the session's CSRF token; the fetch's promise
    return fetch("/api/v1/auth/me", {
      credentials: "same-origin",
      headers: { Accept: "application/json", "Accept-Language": lang },
    });
  }

  window.xueliangPage = {
    lang: lang,
    byId: (id) => document.getElementById(id),
    texts: texts,
    readJson: readJson,
    errorMessage: errorMessage,
    me: me,
  };
})();
