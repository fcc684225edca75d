// The ShopFast demo page: a browser frontend of the credential-vending API, with no build step.
// Signs in with the authorization code flow and PKCE through oidc-client-ts (vendor/, pinned), against
// the issuer /demo/config.json names (the local one, or any OIDC provider), lists grants, browses a prefix,
// downloads through presigned URLs, uploads through a presigned POST form (small files) or a multipart
// upload with presigned parts. Tokens live in memory only (oidc-client-ts's InMemoryWebStorage): a reload
// signs the user out. Only the sign-in's transient state (PKCE verifier, nonce) waits in sessionStorage
// across the redirect, as the library stores it.
"use strict";

const state = {
  config: null,
  manager: null,
  token: null,
  claims: null,
  prefix: null,
  continuationToken: null,
  uploadFolder: null,
  grants: [],
  me: null,
  upload: null, // the multipart upload in progress
};

const $ = (id) => document.getElementById(id);

// ---------- messages ----------
function showMessage(kind, title, detail) {
  const box = document.createElement("div");
  box.className = `message message-${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.dataset.testid = "message";
  box.dataset.kind = kind;
  const text = document.createElement("div");
  const strong = document.createElement("strong");
  strong.textContent = title;
  text.appendChild(strong);
  if (detail) {
    const span = document.createElement("span");
    span.textContent = ` ${detail}`;
    text.appendChild(span);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "message-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => box.remove());
  box.append(text, close);
  // One current message: an old "Access denied" above a newer success would say the opposite of what
  // just happened.
  $("messages").replaceChildren(box);
}

function clearMessages() {
  $("messages").replaceChildren();
}

// ---------- API calls ----------
class ApiError extends Error {
  constructor(status, title, detail, code) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.code = code;
  }
}

function challengeDescription(response) {
  const challenge = response.headers.get("www-authenticate") || "";
  const match = challenge.match(/error_description="([^"]*)"/);
  return match ? match[1] : "";
}

async function api(method, path, body) {
  if (!state.token) throw new ApiError(401, "Not signed in", "Sign in first.");
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${state.config.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "The API is unreachable", "Is `make run` still running?");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = null;
  }
  if (response.ok) return data;
  if (response.status === 401) {
    // The gateway's JWT authorizer answers {"message":"Unauthorized"} and says why in www-authenticate;
    // the service answers a problem document.
    const why = challengeDescription(response) || (data && data.detail) || "";
    endSession(/expired/i.test(why) ? "expired" : "invalid", why);
    throw new ApiError(401, "Signed out", why, "unauthorized");
  }
  if (data && data.title) throw new ApiError(response.status, data.title, data.detail, data.code);
  throw new ApiError(response.status, (data && data.message) || `HTTP ${response.status}`, "", "");
}

function reportError(action, error) {
  if (!(error instanceof ApiError)) {
    showMessage("error", `${action} failed.`, String(error && error.message ? error.message : error));
    return;
  }
  if (error.status === 401) return; // endSession already said what happened
  if (error.status === 403) {
    const why = error.detail || "no grant of yours covers this";
    showMessage("error", "Access denied.", `${action}: ${why}.`);
  } else if (error.status === 400) {
    showMessage("error", `${action}: that request is not valid.`, error.detail || error.title);
  } else if (error.status === 429 || error.status === 503) {
    showMessage("warning", "The service is busy.", "Please try again in a moment.");
  } else {
    showMessage("error", `${action} failed.`, error.detail || error.title);
  }
}

// ---------- session ----------
function createManager(config) {
  const home = `${window.location.origin}/`;
  return new oidc.UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: home,
    post_logout_redirect_uri: home,
    response_type: "code",
    scope: config.scopes,
    userStore: new oidc.WebStorageStateStore({ store: new oidc.InMemoryWebStorage() }),
    stateStore: new oidc.WebStorageStateStore({ store: window.sessionStorage, prefix: "shopfast.signin." }),
    automaticSilentRenew: true, // with a refresh token: one token-endpoint call, no iframe
    accessTokenExpiringNotificationTimeInSeconds: 60,
    loadUserInfo: false,
    monitorSession: false,
  });
}

async function signIn() {
  clearMessages();
  $("sign-in").disabled = true;
  try {
    // OpenID Connect Core §3.1.2.1: a nonce the ID token must echo (oidc-client-ts checks it on return).
    const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    await state.manager.signinRedirect({ nonce });
  } catch (error) {
    $("sign-in").disabled = false;
    showMessage("error", "Sign-in could not start.", String(error.message || error));
  }
}

async function completeSignIn() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("state") || !(params.has("code") || params.has("error"))) return null;
  window.history.replaceState(null, "", window.location.pathname); // the code is single use: drop it
  try {
    return await state.manager.signinRedirectCallback(`${window.location.origin}/?${params}`);
  } catch (error) {
    const why = params.get("error_description") || error.message || String(error);
    showMessage("error", "Sign-in failed.", why);
    return null;
  }
}

async function startSession(user) {
  useUser(user);
  try {
    const me = await api("GET", "/v1/me");
    state.me = me;
    $("welcome").textContent = `Welcome, ${(me && me.email) || user.profile.email}`;
    $("session").hidden = false;
    $("sign-in-card").hidden = true;
    $("workspace").hidden = false;
    resetBrowser();
    await loadGrants();
  } catch (error) {
    reportError("Sign-in", error);
  }
}

function useUser(user) {
  state.token = user.access_token;
  state.claims = user.profile;
  const expiresAt = new Date(user.expires_at * 1000);
  $("session-expiry").textContent = `· session until ${expiresAt.toLocaleTimeString()}`;
  $("session").dataset.expiresAt = String(user.expires_at);
}

async function signOut() {
  clearMessages();
  try {
    await state.manager.revokeTokens(["refresh_token"]); // the issuer ends the session too
  } catch (error) {
    // Signed out here regardless: the tokens are dropped from memory below.
  }
  endSession("signed-out", "");
}

function endSession(reason, why) {
  const wasSignedIn = Boolean(state.token);
  state.token = null;
  state.claims = null;
  if (state.manager) state.manager.removeUser();
  $("session").hidden = true;
  $("workspace").hidden = true;
  $("sign-in-card").hidden = false;
  $("sign-in").disabled = false;
  $("welcome").textContent = "";
  if (!wasSignedIn) return;
  if (reason === "expired") {
    showMessage("warning", "Your session has expired.", "Sign in again to continue.");
  } else if (reason === "invalid") {
    showMessage("error", "Your sign-in was not accepted.", why ? `(${why}) Sign in again.` : "Sign in again.");
  } else {
    showMessage("info", "You are signed out.", "");
  }
}

// ---------- grants ----------
function browsePrefixOf(scope) {
  // s3://bucket/prefix/* → s3://bucket/prefix/ ; s3://bucket/pre* → s3://bucket/ ; object → its folder
  let prefix = scope.endsWith("*") ? scope.slice(0, -1) : scope;
  if (!prefix.endsWith("/")) prefix = prefix.slice(0, prefix.lastIndexOf("/") + 1);
  return prefix;
}

function permissionBadge(permission) {
  const badge = document.createElement("span");
  badge.className = `badge badge-${permission.toLowerCase()}`;
  badge.textContent = { READ: "read", WRITE: "write", READWRITE: "read & write" }[permission] || permission;
  return badge;
}

async function loadGrants() {
  const list = $("grants");
  list.replaceChildren();
  $("no-grants").hidden = true;
  try {
    const grants = [];
    let nextToken = null;
    do {
      const query = nextToken ? `?nextToken=${encodeURIComponent(nextToken)}` : "";
      const page = await api("GET", `/v1/grants${query}`);
      grants.push(...page.grants);
      nextToken = page.nextToken;
    } while (nextToken);
    grants.sort((a, b) => a.grantScope.localeCompare(b.grantScope));
    state.grants = grants;
    for (const grant of grants) list.appendChild(grantItem(grant));
    showWhatToAskFor(grants.length === 0);
  } catch (error) {
    reportError("Loading your grants", error);
  }
}

// With no grant, browsing and uploading can only fail: say what to ask for, and to whom, instead.
function showWhatToAskFor(noGrants) {
  $("no-grants").hidden = !noGrants;
  $("browser-card").hidden = noGrants;
  if (!noGrants) return;
  const me = state.me || {};
  const who = me.email || (state.claims && state.claims.email) || "you";
  const groups = (me.groups || []).length ? me.groups.join(", ") : "none";
  $("no-grants-who").textContent = `${who} (groups: ${groups})`;
}

function grantItem(grant) {
  const item = document.createElement("li");
  item.className = "grant";
  item.dataset.scope = grant.grantScope;
  const scope = document.createElement("code");
  scope.textContent = grant.grantScope;
  const actions = document.createElement("div");
  actions.className = "grant-actions";
  actions.appendChild(permissionBadge(grant.permission));
  const folder = browsePrefixOf(grant.grantScope);
  if (grant.permission !== "WRITE") {
    const browse = document.createElement("button");
    browse.type = "button";
    browse.className = "button button-small";
    browse.textContent = "Browse";
    browse.addEventListener("click", () => {
      $("prefix").value = folder;
      listObjects(false);
    });
    actions.appendChild(browse);
  }
  if (grant.permission !== "READ") {
    const upload = document.createElement("button");
    upload.type = "button";
    upload.className = "button button-small button-quiet";
    upload.textContent = "Upload here";
    upload.addEventListener("click", () => {
      state.uploadFolder = folder;
      suggestUploadTarget();
      $("upload-file").focus();
    });
    actions.appendChild(upload);
  }
  item.append(scope, actions);
  return item;
}

function canWrite(folder) {
  return (state.grants || []).some((grant) => {
    if (grant.permission === "READ") return false;
    const scope = grant.grantScope.endsWith("*") ? grant.grantScope.slice(0, -1) : grant.grantScope;
    return folder.startsWith(scope);
  });
}

// ---------- browsing ----------
function resetBrowser() {
  state.prefix = null;
  state.continuationToken = null;
  state.uploadFolder = null;
  $("objects").replaceChildren();
  $("objects-table").hidden = true;
  $("no-objects").hidden = true;
  $("more-objects").hidden = true;
  $("preview").hidden = true;
  $("prefix").value = "";
  $("upload-target").value = "";
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function listObjects(more) {
  let prefix = $("prefix").value.trim();
  if (prefix && !prefix.endsWith("/")) prefix += "/";
  $("prefix").value = prefix;
  if (!more) {
    state.continuationToken = null;
    $("objects").replaceChildren();
    $("preview").hidden = true; // it belonged to the previous folder
  }
  const params = new URLSearchParams({ prefix });
  if (more && state.continuationToken) params.set("continuationToken", state.continuationToken);
  const button = $("browse");
  button.disabled = true;
  try {
    const page = await api("GET", `/v1/objects?${params}`);
    state.prefix = prefix;
    if (canWrite(prefix)) {
      // The upload destination follows the folder only where uploads are allowed.
      state.uploadFolder = prefix;
      suggestUploadTarget();
    }
    const rows = $("objects");
    for (const folder of page.prefixes || []) rows.appendChild(folderRow(folder));
    for (const object of page.objects || []) rows.appendChild(objectRow(object));
    state.continuationToken = page.nextContinuationToken;
    $("objects-table").hidden = rows.children.length === 0;
    $("no-objects").hidden = rows.children.length > 0;
    $("more-objects").hidden = !state.continuationToken;
  } catch (error) {
    $("objects-table").hidden = true;
    reportError(`Listing ${prefix}`, error);
  } finally {
    button.disabled = false;
  }
}

function folderRow(folder) {
  const row = document.createElement("tr");
  const name = document.createElement("td");
  const open = document.createElement("button");
  open.type = "button";
  open.className = "link";
  open.textContent = `${folder.slice(state.prefix ? state.prefix.length : 0)}`;
  open.addEventListener("click", () => {
    $("prefix").value = folder;
    listObjects(false);
  });
  name.appendChild(open);
  row.append(name, cell(""), cell(""), cell(""));
  return row;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function objectRow(object) {
  const row = document.createElement("tr");
  row.dataset.target = object.target;
  const shortName = object.key.slice(object.key.lastIndexOf("/") + 1) || object.key;
  const name = cell(object.key);
  name.className = "mono";
  const actions = document.createElement("td");
  actions.className = "actions";
  const download = document.createElement("button");
  download.type = "button";
  download.className = "button button-small";
  download.textContent = "Download";
  download.setAttribute("aria-label", `Download ${object.key}`);
  download.addEventListener("click", () => downloadObject(object.target, shortName, download));
  actions.appendChild(download);
  row.append(
    name,
    cell(formatSize(object.size), "num"),
    cell(new Date(object.lastModified).toLocaleString()),
    actions,
  );
  return row;
}

async function s3Failure(response) {
  // S3 errors are XML: <Error><Code>AccessDenied</Code><Message>…</Message></Error>
  const text = await response.text();
  const code = (text.match(/<Code>([^<]*)<\/Code>/) || [])[1] || `HTTP ${response.status}`;
  const message = (text.match(/<Message>([^<]*)<\/Message>/) || [])[1] || "";
  return `${code}${message ? `: ${message}` : ""}`;
}

async function downloadObject(target, filename, button) {
  button.disabled = true;
  try {
    const presigned = await api("POST", "/v1/presign", { target, method: "GET", filename });
    const response = await fetch(presigned.url, { headers: presigned.headers || {}, cache: "no-store" });
    if (!response.ok) {
      showMessage("error", "S3 refused the download.", await s3Failure(response));
      return;
    }
    const blob = await response.blob();
    showPreview(filename, blob);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    const until = new Date(presigned.expiresAt).toLocaleTimeString();
    showMessage("success", `Downloaded ${filename}.`, `The presigned link was valid until ${until}.`);
  } catch (error) {
    reportError(`Downloading ${filename}`, error);
  } finally {
    button.disabled = false;
  }
}

async function showPreview(filename, blob) {
  const textual = blob.size <= 64 * 1024 && (!blob.type || /^(text\/|application\/(json|xml|csv))/.test(blob.type));
  if (!textual) {
    $("preview").hidden = true;
    return;
  }
  $("preview-title").textContent = `Preview of ${filename}`;
  $("preview-body").textContent = await blob.text();
  $("preview").hidden = false;
}

// ---------- uploading ----------
function suggestUploadTarget() {
  const file = $("upload-file").files[0];
  const folder = state.uploadFolder;
  if (folder) $("upload-target").value = `${folder}${file ? file.name : ""}`;
}

// Below this size a file goes up in one presigned POST form (its policy bounds the size); from it on, in a
// multipart upload: parts of at least 8 MiB (S3: every part but the last at least 5 MiB, at most 10,000
// parts), four at a time, each retried on its own.
const MIB = 1024 * 1024;
const MULTIPART_THRESHOLD = 16 * MIB;
const MIN_PART_SIZE = 8 * MIB;
const MAX_PARTS = 10000;
const PARALLEL_PARTS = 4;
const PART_ATTEMPTS = 3;
const URLS_PER_REQUEST = 1000;

class PartError extends Error {
  constructor(partNumber, status, detail) {
    super(`part ${partNumber}: ${detail || `HTTP ${status}`}`);
    this.partNumber = partNumber;
    this.status = status;
  }
}

class Cancelled extends Error {}

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  const target = $("upload-target").value.trim();
  if (!file) {
    showMessage("error", "Choose a file to upload.", "");
    return;
  }
  if (!/^s3:\/\/[^/]+\/.+[^/]$/.test(target)) {
    showMessage("error", "Enter a destination like s3://bucket/folder/file-name.", "");
    return;
  }
  if (state.upload) {
    showMessage("warning", "An upload is in progress.", "Wait for it, or cancel it first.");
    return;
  }
  const button = $("upload");
  button.disabled = true;
  try {
    if (file.size < MULTIPART_THRESHOLD) await uploadWithForm(file, target);
    else await startUploadInParts(file, target);
  } catch (error) {
    reportError(`Uploading ${file.name} to ${target}`, error);
  } finally {
    button.disabled = false;
  }
}

function contentTypeOf(file) {
  return file.type || "application/octet-stream";
}

async function uploadWithForm(file, target) {
  const presigned = await api("POST", "/v1/presign", {
    target,
    method: "POST",
    contentType: contentTypeOf(file),
    maxBytes: Math.max(1, file.size),
  });
  const form = new FormData();
  for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
  if (!("key" in presigned.fields)) form.append("key", target.replace(/^s3:\/\/[^/]+\//, ""));
  form.append("file", file); // last: S3 ignores fields after the file
  const response = await fetch(presigned.url, { method: "POST", body: form });
  if (!response.ok) {
    showMessage("error", "S3 refused the upload.", await s3Failure(response));
    return;
  }
  await uploaded(file, target);
}

async function uploaded(file, target) {
  showMessage("success", `Uploaded ${file.name}.`, `Stored as ${target}.`);
  $("upload-file").value = "";
  suggestUploadTarget();
  const folder = target.slice(0, target.lastIndexOf("/") + 1);
  if (state.prefix === folder) await listObjects(false);
}

async function startUploadInParts(file, target) {
  const partSize = Math.max(MIN_PART_SIZE, Math.ceil(file.size / MAX_PARTS));
  const partCount = Math.ceil(file.size / partSize);
  const started = await api("POST", "/v1/uploads", { target, partCount, contentType: contentTypeOf(file) });
  const job = {
    file,
    target,
    uploadId: started.uploadId,
    partSize,
    partCount,
    urls: new Map(started.parts.map((part) => [part.partNumber, part.url])),
    etags: new Map(),
    sent: new Map(),
    requests: new Set(),
    cancelled: false,
  };
  state.upload = job;
  $("upload-progress").hidden = false;
  $("upload-cancel").hidden = false;
  renderProgress(job);
  await sendParts(job);
}

async function sendParts(job) {
  $("upload-resume").hidden = true;
  const missing = [];
  for (let number = 1; number <= job.partCount; number += 1) if (!job.etags.has(number)) missing.push(number);
  try {
    await fetchPartUrls(job, missing.filter((number) => !job.urls.has(number)));
    const queue = missing.slice();
    const worker = async () => {
      while (queue.length && !job.cancelled && !job.failed) await sendPart(job, queue.shift());
    };
    job.failed = false;
    const workers = Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker);
    const outcomes = await Promise.allSettled(workers);
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
    if (job.cancelled) return;
    const parts = [...job.etags.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([partNumber, etag]) => ({ partNumber, etag }));
    $("upload-status").textContent = "Completing…";
    await api("POST", "/v1/uploads/complete", { target: job.target, uploadId: job.uploadId, parts });
    finishUpload(job);
    await uploaded(job.file, job.target);
  } catch (error) {
    if (job.cancelled || error instanceof Cancelled) return;
    if (error instanceof PartError) {
      // The parts already sent stay in S3: Resume sends only the others, with fresh URLs.
      for (const number of missing) if (!job.etags.has(number)) job.urls.delete(number);
      $("upload-resume").hidden = false;
      $("upload-status").textContent = `Stopped at ${percentOf(job)}%: ${error.message}.`;
      showMessage("error", "A part of the upload failed.", `${error.message}. Resume to send the rest.`);
      return;
    }
    if (error instanceof ApiError && error.status === 401) {
      finishUpload(job);
      return;
    }
    $("upload-resume").hidden = false;
    reportError(`Uploading ${job.file.name}`, error);
  }
}

async function fetchPartUrls(job, numbers) {
  for (let start = 0; start < numbers.length; start += URLS_PER_REQUEST) {
    const partNumbers = numbers.slice(start, start + URLS_PER_REQUEST);
    const answer = await api("POST", "/v1/uploads/parts", {
      target: job.target,
      uploadId: job.uploadId,
      partNumbers,
    });
    for (const part of answer.parts) job.urls.set(part.partNumber, part.url);
  }
}

async function sendPart(job, number) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      job.etags.set(number, await putPart(job, number));
      renderProgress(job);
      return;
    } catch (error) {
      job.sent.set(number, 0);
      renderProgress(job);
      if (job.cancelled || error instanceof Cancelled) throw new Cancelled();
      if (attempt >= PART_ATTEMPTS) {
        job.failed = true;
        throw error;
      }
      if (error.status === 403) await fetchPartUrls(job, [number]); // the URL may have expired
      await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
    }
  }
}

function putPart(job, number) {
  const start = (number - 1) * job.partSize;
  const body = job.file.slice(start, Math.min(start + job.partSize, job.file.size));
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    job.requests.add(request);
    const done = () => job.requests.delete(request);
    request.open("PUT", job.urls.get(number));
    request.upload.onprogress = (event) => {
      job.sent.set(number, event.loaded);
      renderProgress(job);
    };
    request.onload = () => {
      done();
      const etag = request.getResponseHeader("ETag");
      if (request.status === 200 && etag) {
        job.sent.set(number, body.size);
        resolve(etag);
      } else {
        const code = (request.responseText.match(/<Code>([^<]*)<\/Code>/) || [])[1];
        reject(new PartError(number, request.status, code));
      }
    };
    request.onerror = () => {
      done();
      reject(new PartError(number, 0, "the connection failed"));
    };
    request.onabort = () => {
      done();
      reject(new Cancelled());
    };
    request.send(body);
  });
}

function percentOf(job) {
  let sent = 0;
  for (const bytes of job.sent.values()) sent += bytes;
  return job.file.size ? Math.floor((sent * 100) / job.file.size) : 100;
}

function renderProgress(job) {
  const percent = percentOf(job);
  $("upload-bar").value = percent;
  $("upload-status").textContent =
    `${job.file.name}: ${percent}% · ${job.etags.size} of ${job.partCount} parts`;
}

function finishUpload(job) {
  if (state.upload === job) state.upload = null;
  $("upload-progress").hidden = true;
  $("upload-resume").hidden = true;
}

async function cancelUpload() {
  const job = state.upload;
  if (!job) return;
  job.cancelled = true;
  for (const request of job.requests) request.abort();
  finishUpload(job);
  try {
    await api("POST", "/v1/uploads/abort", { target: job.target, uploadId: job.uploadId });
    showMessage("info", `Upload of ${job.file.name} cancelled.`, "S3 discarded the parts already sent.");
  } catch (error) {
    reportError(`Cancelling the upload of ${job.file.name}`, error);
  }
}

async function resumeUpload() {
  const job = state.upload;
  if (!job) return;
  await sendParts(job);
}

function dropFile(event) {
  event.preventDefault();
  $("drop-zone").classList.remove("drop-zone-active");
  if (!event.dataTransfer || !event.dataTransfer.files.length) return;
  $("upload-file").files = event.dataTransfer.files;
  suggestUploadTarget();
}

// ---------- start ----------
async function start() {
  try {
    const response = await fetch("/demo/config.json", { cache: "no-store" });
    state.config = await response.json();
  } catch (error) {
    showMessage("error", "The demo configuration could not be loaded.", "Is `make run` running?");
    return;
  }
  $("api-base").textContent = state.config.apiUrl || window.location.origin;
  $("issuer").textContent = state.config.issuer;
  state.manager = createManager(state.config);
  state.manager.events.addUserLoaded((user) => useUser(user)); // after each silent renewal too
  state.manager.events.addAccessTokenExpired(() => endSession("expired", ""));
  $("sign-in").addEventListener("click", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh-grants").addEventListener("click", loadGrants);
  $("browse-form").addEventListener("submit", (event) => {
    event.preventDefault();
    listObjects(false);
  });
  $("more-objects").addEventListener("click", () => listObjects(true));
  $("close-preview").addEventListener("click", () => {
    $("preview").hidden = true;
  });
  $("upload-file").addEventListener("change", suggestUploadTarget);
  $("upload-form").addEventListener("submit", upload);
  $("upload-cancel").addEventListener("click", cancelUpload);
  $("upload-resume").addEventListener("click", resumeUpload);
  const dropZone = $("drop-zone");
  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("drop-zone-active");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("drop-zone-active"));
  dropZone.addEventListener("drop", dropFile);
  const user = await completeSignIn();
  document.body.dataset.ready = "true";
  if (user) await startSession(user);
}

start();
