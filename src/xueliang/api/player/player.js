/*
 * The minimal live player of /play/{camera_id}.
 *
 * Flow: GET /api/v1/auth/me says who is signed in and gives the session's CSRF token (nobody signed in: the page
 * goes to /login?next=<this page>); POST /api/v1/cameras/{id}/play (with X-CSRF-Token, as every unsafe request
 * with the session cookie) opens a viewing session and answers with signed URLs for each output, the treatment
 * ("masked" shows the desensitised badge: the grant decides, the page cannot turn it off) and the grant;
 * the page plays one of them (HTTP-FLV or WS-FLV through mpegts.js, HLS through hls.js or the browser's own HLS)
 * and ends the session with DELETE /api/v1/play-sessions/{session} when it leaves (fetch keepalive: a beacon
 * cannot send DELETE). An H.265 camera offers the variants "native" (H.265 as it comes) and "h264" (transcoded
 * on the media node); a browser that cannot decode H.265 (Chromium on Linux) is switched to "h264" on its own.
 *
 * A refusal (403 no grant, 429 the unit's stream limit, ...) shows the server's message.
 *
 * For tests and for people with devtools: window.xueliangPlayer = {state, error, error_code, video, user,
 * treatment, grant, ...} and <body data-state="idle|signed-out|requesting|loading|playing|stalled|ended|error"
 * data-format=... data-variant=... data-treatment=... data-error-code=...>. What it shares with the sign-in page
 * comes from /login/assets/page.js.
 */
(function () {
  "use strict";

  const HEVC_TYPE = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
  const PROBE_TYPES = {
    avc1: 'video/mp4; codecs="avc1.42E01E"',
    hvc1: HEVC_TYPE,
    hev1: 'video/mp4; codecs="hev1.1.6.L93.B0"',
  };
  const FORMATS = ["flv", "ws-flv", "hls", "native-hls"];
  const URL_FIELD = { flv: "flv", "ws-flv": "ws_flv", hls: "hls", "native-hls": "hls" };
  const WATCH_INTERVAL_MS = 1000;
  const STALL_AFTER_MS = 3000;

  const MESSAGES = {
    "zh-CN": {
      idle: "未开始",
      "signed-out": "未登录，正在转到登录页…",
      requesting: "正在请求视频流…",
      loading: "正在加载…",
      playing: "播放中",
      stalled: "卡顿（等待数据）",
      ended: "视频流已结束",
      error: "出错",
      no_format: "此浏览器无法播放任何可用格式",
      no_hevc: "此浏览器不能解码 H.265，服务器也没有提供 H.264 转码码流",
      blocked: "浏览器阻止了自动播放，请点击播放",
      snapshot_failed: "抓图失败",
      http: "请求失败，HTTP 状态码 ",
      variant_native: "原始码流",
      variant_h264: "H.264（转码）",
      variant_masked: "脱敏",
      refused_403: "无权观看：",
      refused_429: "超出并发限制：",
    },
    en: {
      idle: "not started",
      "signed-out": "not signed in: going to the sign-in page…",
      requesting: "requesting the stream…",
      loading: "loading…",
      playing: "playing",
      stalled: "stalled (waiting for data)",
      ended: "the stream has ended",
      error: "error",
      no_format: "this browser can play none of the offered formats",
      no_hevc: "this browser cannot decode H.265 and the server offers no H.264 transcode",
      blocked: "the browser blocked autoplay; press play",
      snapshot_failed: "the snapshot failed",
      http: "the request failed with HTTP status ",
      variant_native: "native",
      variant_h264: "H.264 (transcoded)",
      variant_masked: "desensitised",
      refused_403: "Not allowed: ",
      refused_429: "Limit reached: ",
    },
  };

  const page = window.xueliangPage;
  const body = document.body;
  const lang = page.lang;
  const text = page.texts(MESSAGES);
  const byId = page.byId;
  const readJson = page.readJson;
  const errorMessage = (status, answer) => page.errorMessage(status, answer, text("http"));
  const params = new URLSearchParams(window.location.search);
  const cameraId = body.dataset.cameraId;
  const video = byId("video");
  const formatSelect = byId("format");
  const variantSelect = byId("variant");
  const snapshotButton = byId("snapshot");

  const hasMse = typeof window.MediaSource !== "undefined";
  const capabilities = {};
  for (const [name, type] of Object.entries(PROBE_TYPES)) {
    capabilities[name] = hasMse && window.MediaSource.isTypeSupported(type);
  }
  const hevcSupported = capabilities.hvc1;

  const player = {
    state: "idle",
    error: null,
    error_code: null,
    video: video,
    user: null,
    csrf: null,
    treatment: null,
    grant: null,
    session: null,
    play: null,
    format: null,
    variant: null,
    capabilities: capabilities,
    ended_sessions: [],
  };
  window.xueliangPlayer = player;

  let engine = null; // the mpegts.js or hls.js instance, or a small object for native HLS
  let generation = 0; // bumps on every (re)start so answers of an abandoned request are ignored
  let sourceClosed = false;
  let lastTime = -1;
  let lastProgressAt = 0;

  // a request answered 401: the page is on its way to the sign-in page, nothing to show
  class SignedOut extends Error {}

  function setState(state, error, code) {
    player.state = state;
    player.error = error === undefined ? null : error;
    player.error_code = code === undefined ? null : code;
    body.dataset.state = state;
    if (player.error_code === null) delete body.dataset.errorCode;
    else body.dataset.errorCode = player.error_code;
    byId("status").textContent = text(state);
    const box = byId("error");
    box.hidden = player.error === null;
    box.textContent = player.error === null ? "" : player.error;
  }

  function fail(message, code) {
    destroyEngine();
    setState("error", String(message), code);
  }

  class Refused extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function toLogin() {
    // replace, not assign: "back" from the sign-in page must not land here again
    generation++;
    destroyEngine();
    setState("signed-out");
    const query = new URLSearchParams({ next: window.location.pathname + window.location.search });
    if (lang === "en") query.set("lang", "en");
    window.location.replace("/login?" + query.toString());
  }

  async function whoAmI() {
    // who is signed in, and the CSRF token of the session (null when the credential is not a cookie)
    let response;
    try {
      response = await page.me();
    } catch (exc) {
      throw new Error(text("network") + exc.message);
    }
    if (response.status === 401) throw new SignedOut();
    const answer = await readJson(response);
    if (!response.ok) throw new Refused(errorMessage(response.status, answer), response.status, answer && answer.error);
    player.user = answer;
    player.csrf = answer.csrf_token || null;
    byId("user").textContent = answer.name + (answer.unit_code ? " · " + answer.unit_code : "");
    byId("user-box").hidden = false;
    return answer;
  }

  function unsafeHeaders() {
    const headers = { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": lang };
    if (player.csrf) headers["X-CSRF-Token"] = player.csrf;
    return headers;
  }

  function formatSupported(format) {
    const mpegts = window.mpegts;
    const features = mpegts && mpegts.isSupported() ? mpegts.getFeatureList() : null;
    if (format === "flv") return Boolean(features && features.mseLivePlayback && features.networkStreamIO);
    if (format === "ws-flv") return Boolean(features && features.mseLivePlayback && "WebSocket" in window);
    if (format === "hls") return Boolean(window.Hls && window.Hls.isSupported());
    if (format === "native-hls") return video.canPlayType("application/vnd.apple.mpegurl") !== "";
    return false;
  }

  function chooseFormat() {
    for (const option of formatSelect.options) option.disabled = !formatSupported(option.value);
    const wanted = params.get("format");
    if (FORMATS.includes(wanted) && formatSupported(wanted)) return wanted;
    return FORMATS.find(formatSupported) || null;
  }

  async function requestPlay(variant, retried) {
    const request = { formats: [...new Set(FORMATS.filter(formatSupported).map((f) => URL_FIELD[f]))] };
    if (variant) request.variant = variant;
    let response;
    try {
      response = await fetch("/api/v1/cameras/" + encodeURIComponent(cameraId) + "/play", {
        method: "POST",
        credentials: "same-origin",
        headers: unsafeHeaders(),
        body: JSON.stringify(request),
      });
    } catch (exc) {
      throw new Error(text("network") + exc.message);
    }
    if (response.status === 401) throw new SignedOut();
    const answer = await readJson(response);
    const code = answer && typeof answer.error === "string" ? answer.error : null;
    if (response.status === 403 && code === "csrf" && !retried) {
      await whoAmI(); // signed in again in another tab: a new session, a new token
      return requestPlay(variant, true);
    }
    if (!response.ok) {
      // a refusal of the play itself says what kind: not allowed (no grant) or a limit reached
      const refused = response.status === 429 || (response.status === 403 && code !== "csrf");
      const prefix = refused ? text("refused_" + response.status) : "";
      throw new Refused(prefix + errorMessage(response.status, answer), response.status, code);
    }
    return answer;
  }

  function endSession(session) {
    // keepalive: the request outlives the page (a beacon cannot send DELETE); returns the request's promise
    if (!session) return Promise.resolve();
    player.ended_sessions.push(session);
    const url = "/api/v1/play-sessions/" + encodeURIComponent(session);
    const headers = player.csrf ? { "X-CSRF-Token": player.csrf } : {};
    return fetch(url, { method: "DELETE", keepalive: true, credentials: "same-origin", headers: headers }).catch(
      () => {},
    );
  }

  function destroyEngine() {
    if (engine !== null) {
      try {
        engine.destroy();
      } catch (exc) {
        console.warn("xueliang player: destroy failed", exc);
      }
      engine = null;
    }
  }

  function withToken(url, tokenSource) {
    // hls.js resolves segment URIs against the playlist URL and drops its query; carry the token over.
    const target = new URL(url, window.location.href);
    const source = new URL(tokenSource, window.location.href);
    const token = source.searchParams.get("token");
    if (token && target.origin === source.origin && !target.searchParams.has("token")) {
      target.searchParams.set("token", token);
    }
    return target.toString();
  }

  function startFlv(url) {
    const mpegts = window.mpegts;
    const flv = mpegts.createPlayer(
      { type: "flv", isLive: true, url: url },
      {
        enableWorker: false,
        enableStashBuffer: false,
        lazyLoad: false,
        liveBufferLatencyChasing: true,
        liveBufferLatencyMaxLatency: 2.0,
        liveBufferLatencyMinRemain: 0.5,
      },
    );
    flv.on(mpegts.Events.ERROR, (type, detail, info) => {
      const reason = info && (info.msg || info.code) ? info.msg || info.code : "";
      fail([type, detail, reason].filter(Boolean).join(": "));
    });
    flv.on(mpegts.Events.LOADING_COMPLETE, () => {
      sourceClosed = true; // the server closed the stream; what is buffered still plays, then "ended"
    });
    flv.attachMediaElement(video);
    flv.load();
    return flv;
  }

  function startHls(url) {
    const Hls = window.Hls;
    const hls = new Hls({
      liveDurationInfinity: true,
      backBufferLength: 30,
      xhrSetup: (xhr, requestUrl) => {
        const signed = withToken(requestUrl, url);
        if (signed !== requestUrl) xhr.open("GET", signed, true);
      },
    });
    hls.on(Hls.Events.ERROR, (event, data) => {
      if (!data.fatal) return;
      const status = data.response && data.response.code ? " (HTTP " + data.response.code + ")" : "";
      fail(data.type + ": " + data.details + status);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return hls;
  }

  function startNativeHls(url) {
    video.src = url;
    return {
      destroy: () => {
        video.removeAttribute("src");
        video.load();
      },
    };
  }

  function attach(format) {
    destroyEngine();
    const url = player.play[URL_FIELD[format]];
    if (!url) {
      fail(text("no_format"));
      return;
    }
    player.format = format;
    body.dataset.format = format;
    formatSelect.value = format;
    setState("loading");
    sourceClosed = false;
    lastTime = -1;
    lastProgressAt = Date.now();
    if (format === "flv" || format === "ws-flv") engine = startFlv(url);
    else if (format === "hls") engine = startHls(url);
    else engine = startNativeHls(url);
    const started = video.play();
    if (started && started.catch) {
      started.catch((exc) => {
        if (exc && exc.name === "NotAllowedError") setState("loading", text("blocked"));
      });
    }
  }

  function showVariants(answer) {
    const variants = Array.isArray(answer.variants) ? answer.variants : [];
    variantSelect.replaceChildren(
      ...variants.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = MESSAGES[lang]["variant_" + name] || name;
        return option;
      }),
    );
    variantSelect.value = answer.variant;
    byId("variant-label").hidden = variants.length < 2;
  }

  function showInfo(answer) {
    const size = answer.width && answer.height ? answer.width + "×" + answer.height : "";
    const parts = [answer.codec ? answer.codec.toUpperCase() : "", answer.variant, size, answer.stream_id];
    if (answer.grant) parts.push((lang === "en" ? "grant " : "授权 ") + answer.grant);
    byId("info").textContent = parts.filter(Boolean).join(" · ");
  }

  function showTreatment(answer) {
    player.treatment = answer ? answer.treatment || "full" : null;
    player.grant = answer ? answer.grant || null : null;
    if (player.treatment === null) delete body.dataset.treatment;
    else body.dataset.treatment = player.treatment;
    byId("treatment").hidden = player.treatment !== "masked";
  }

  async function start(variant) {
    const mine = ++generation;
    destroyEngine();
    endSession(player.session);
    player.session = null;
    showTreatment(null);
    snapshotButton.disabled = true;
    const format = chooseFormat();
    if (format === null) {
      fail(text("no_format"));
      return;
    }
    setState("requesting");
    try {
      let answer = await requestPlay(variant);
      if (mine !== generation) return endSession(answer.session);
      const offered = Array.isArray(answer.variants) ? answer.variants : [];
      // the transcoded and the masked variants are H.264 whatever the camera sends
      const h264 = answer.variant === "h264" || answer.variant === "masked";
      if (!variant && answer.codec === "h265" && !h264 && !hevcSupported) {
        if (!offered.includes("h264")) throw new Error(text("no_hevc"));
        endSession(answer.session); // this browser cannot decode H.265: ask for the transcoded variant
        answer = await requestPlay("h264");
        if (mine !== generation) return endSession(answer.session);
      }
      player.play = answer;
      player.session = answer.session;
      player.variant = answer.variant;
      body.dataset.variant = answer.variant || "";
      body.dataset.session = answer.session || "";
      showVariants(answer);
      showInfo(answer);
      showTreatment(answer);
      snapshotButton.disabled = !answer.snapshot;
      attach(format);
    } catch (exc) {
      if (exc instanceof SignedOut) toLogin();
      else if (mine === generation) fail(exc.message, exc instanceof Refused ? exc.code || null : null);
    }
  }

  async function logout() {
    // the viewing session first (it needs the cookie), then the login; then the sign-in page for this camera
    const button = byId("logout");
    button.disabled = true;
    generation++;
    destroyEngine();
    const session = player.session;
    player.session = null;
    await endSession(session);
    try {
      const response = await fetch("/api/v1/auth/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: unsafeHeaders(),
      });
      if (!response.ok && response.status !== 401) {
        const answer = await readJson(response);
        throw new Refused(errorMessage(response.status, answer), response.status, answer && answer.error);
      }
    } catch (exc) {
      button.disabled = false;
      fail(exc.message, exc instanceof Refused ? exc.code || null : null);
      return;
    }
    toLogin();
  }

  function watch() {
    // "playing" means the picture moves: a live stream that stops sending shows as stalled, not as playing.
    if (engine === null || player.state === "error" || player.state === "ended") return;
    const now = Date.now();
    if (video.currentTime !== lastTime) {
      lastTime = video.currentTime;
      lastProgressAt = now;
      if (video.readyState >= 2 && !video.paused && player.state !== "playing") setState("playing");
    } else if (sourceClosed && now - lastProgressAt > WATCH_INTERVAL_MS) {
      setState("ended");
    } else if (player.state === "playing" && !video.paused && now - lastProgressAt > STALL_AFTER_MS) {
      setState("stalled");
    }
  }

  async function loadCameraName() {
    // Best effort: the archive name makes the page easier to trust; the page works without it.
    try {
      const response = await fetch("/api/v1/cameras/" + encodeURIComponent(cameraId), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const camera = await response.json();
      if (camera && typeof camera.name === "string") byId("camera-name").textContent = camera.name;
    } catch (exc) {
      console.info("xueliang player: no camera name", exc);
    }
  }

  video.addEventListener("playing", () => {
    if (player.state !== "error") setState("playing");
  });
  video.addEventListener("waiting", () => {
    lastTime = video.currentTime; // so that the watch does not take the last step before the stall for progress
    if (player.state === "playing") setState(sourceClosed ? "ended" : "stalled");
  });
  video.addEventListener("ended", () => {
    if (player.state !== "error") setState("ended");
  });
  video.addEventListener("error", () => {
    if (engine === null) return;
    const problem = video.error;
    fail(problem ? "MediaError " + problem.code + (problem.message ? ": " + problem.message : "") : text("error"));
  });
  formatSelect.addEventListener("change", () => {
    if (player.play) attach(formatSelect.value);
  });
  variantSelect.addEventListener("change", () => start(variantSelect.value));
  byId("retry").addEventListener("click", () => start(player.variant || params.get("variant")));
  byId("logout").addEventListener("click", logout);
  snapshotButton.addEventListener("click", () => {
    const url = new URL(player.play.snapshot, window.location.href);
    url.searchParams.set("_", String(Date.now())); // a fresh picture, not the cached one
    const image = byId("snapshot-image");
    image.onerror = () => {
      byId("info").textContent = text("snapshot_failed");
    };
    image.src = url.toString();
    byId("snapshot-link").href = url.toString();
    byId("snapshot-figure").hidden = false;
  });
  window.addEventListener("pagehide", () => {
    generation++;
    destroyEngine();
    endSession(player.session);
    player.session = null;
  });

  async function begin() {
    try {
      await whoAmI();
    } catch (exc) {
      if (exc instanceof SignedOut) toLogin();
      else fail(exc.message, exc instanceof Refused ? exc.code || null : null);
      return;
    }
    window.setInterval(watch, WATCH_INTERVAL_MS);
    loadCameraName();
    start(params.get("variant"));
  }

  setState("idle");
  begin();
})();
