// The ShopFast demo page: a browser frontend of the credential-vending API, with no build step.
// Signs in with the authorization code flow and PKCE through oidc-client-ts (vendor/, pinned), against
// the issuer /demo/config.json names (the local one, or any OIDC provider), lists grants, browses a prefix,
// downloads through presigned URLs, uploads through Uppy (vendor/, pinned): a presigned POST form (small
// files) or a multipart upload with presigned parts. Tokens live in memory only (oidc-client-ts's InMemoryWebStorage): a reload
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
  grants: [],
  me: null,
  uploader: null, // Uppy
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
      setUploadFolder(folder);
      $("upload-folder").scrollIntoView({ block: "center" });
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
  $("objects").replaceChildren();
  $("objects-table").hidden = true;
  $("no-objects").hidden = true;
  $("more-objects").hidden = true;
  $("preview").hidden = true;
  $("prefix").value = "";
  setUploadFolder("");
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
      setUploadFolder(prefix);
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
// Uppy (vendor/, pinned) does the uploading: its Dashboard, progress, retries, pause and resume, and its
// AWS S3 plugin, whose callbacks below ask this API for exactly what each step needs. A file under
// MULTIPART_THRESHOLD goes up in one presigned POST form (its policy pins the key, the type and the size);
// a larger one in a multipart upload of parts of at least 8 MiB (S3: every part but the last at least
// 5 MiB, at most 10,000 parts), PARALLEL_REQUESTS at a time. The service starts, completes and aborts
// multipart uploads itself, bound to the caller (`POST /v1/uploads`), so Uppy only ever holds part URLs.
const MIB = 1024 * 1024;
const MULTIPART_THRESHOLD = 16 * MIB;
const MIN_PART_SIZE = 8 * MIB;
const MAX_PARTS = 10000;
const PARALLEL_REQUESTS = 4;
const URLS_PER_REQUEST = 1000;

function partSizeOf(file) {
  return Math.max(MIN_PART_SIZE, Math.ceil(file.size / MAX_PARTS));
}

function contentTypeOf(file) {
  return file.type || "application/octet-stream";
}

function keyOf(target) {
  return target.replace(/^s3:\/\/[^/]+\//, "");
}

function uploadFolder() {
  const folder = $("upload-folder").value.trim();
  return folder && !folder.endsWith("/") ? `${folder}/` : folder;
}

function setUploadFolder(folder) {
  $("upload-folder").value = folder;
}

// The multipart uploads this page started, by the service's uploadId: the target, the part URLs not yet
// used, the parts S3 acknowledged. Uppy asks `listParts` when a paused upload resumes; the service has no
// listing route (ListParts needs READ, which a WRITE grant lacks), and what this page recorded is exactly
// what S3 holds of it (a part in flight when paused was aborted and is sent again).
const multipartUploads = new Map();

// A refusal the user should read: said on the page, then thrown for Uppy to mark the file failed.
async function asked(action, call) {
  try {
    return await call();
  } catch (error) {
    reportError(action, error);
    throw error;
  }
}

const s3Callbacks = {
  shouldUseMultipart: (file) => file.size >= MULTIPART_THRESHOLD,
  getChunkSize: (file) => partSizeOf(file),
  limit: PARALLEL_REQUESTS,

  getUploadParameters: (file) =>
    asked(`Uploading ${file.name} to ${file.meta.target}`, async () => {
      const presigned = await api("POST", "/v1/presign", {
        target: file.meta.target,
        method: "POST",
        contentType: contentTypeOf(file),
        maxBytes: Math.max(1, file.size),
      });
      // Uppy appends the file after these fields: S3 ignores fields that come after it.
      const fields = { key: keyOf(file.meta.target), ...presigned.fields };
      return { method: "POST", url: presigned.url, fields, headers: {} };
    }),

  createMultipartUpload: (file) =>
    asked(`Uploading ${file.name} to ${file.meta.target}`, async () => {
      const partCount = Math.ceil(file.size / partSizeOf(file));
      const target = file.meta.target;
      const started = await api("POST", "/v1/uploads", { target, partCount, contentType: contentTypeOf(file) });
      const urls = new Map(started.parts.map((part) => [part.partNumber, part.url]));
      multipartUploads.set(started.uploadId, { target, partCount, urls, parts: new Map() });
      return { uploadId: started.uploadId, key: keyOf(target) };
    }),

  signPart: (file, { uploadId, partNumber }) =>
    asked(`Uploading ${file.name}`, async () => {
      const upload = multipartUploads.get(uploadId);
      const url = upload.urls.get(partNumber);
      // Each URL once: a part Uppy asks for again (a retry, a resume) may have met an expired URL.
      if (url) {
        upload.urls.delete(partNumber);
        return { url };
      }
      // This part's URL, and those of the next parts not sent yet (one call for the parts to come).
      const partNumbers = [partNumber];
      const last = Math.min(upload.partCount, partNumber + URLS_PER_REQUEST - 1);
      for (let number = partNumber + 1; number <= last; number += 1) {
        if (!upload.parts.has(number) && !upload.urls.has(number)) partNumbers.push(number);
      }
      const answer = await api("POST", "/v1/uploads/parts", { target: upload.target, uploadId, partNumbers });
      for (const part of answer.parts) upload.urls.set(part.partNumber, part.url);
      const fresh = upload.urls.get(partNumber);
      upload.urls.delete(partNumber);
      return { url: fresh };
    }),

  listParts: async (file, { uploadId }) => {
    const upload = multipartUploads.get(uploadId);
    return [...upload.parts.entries()].map(([number, part]) => ({ PartNumber: number, ...part }));
  },

  completeMultipartUpload: (file, { uploadId, parts }) =>
    asked(`Completing ${file.name}`, async () => {
      const upload = multipartUploads.get(uploadId);
      const answer = await api("POST", "/v1/uploads/complete", {
        target: upload.target,
        uploadId,
        parts: parts.map((part) => ({ partNumber: part.PartNumber, etag: part.ETag })),
      });
      multipartUploads.delete(uploadId);
      return { location: upload.target, etag: answer.etag };
    }),

  abortMultipartUpload: (file, { uploadId }) =>
    asked(`Cancelling the upload of ${file.name}`, async () => {
      const upload = multipartUploads.get(uploadId);
      if (!upload) return;
      multipartUploads.delete(uploadId);
      await api("POST", "/v1/uploads/abort", { target: upload.target, uploadId });
      showMessage("info", `Upload of ${file.name} cancelled.`, "S3 discarded the parts already sent.");
    }),
};

function createUploader() {
  const uploader = new Uppy.Uppy({
    autoProceed: false,
    onBeforeUpload: (files) => {
      const folder = uploadFolder();
      if (!/^s3:\/\/[^/]+\/(.+\/)?$/.test(folder)) {
        showMessage("error", "Enter a destination folder like s3://bucket/folder/.", "");
        return false;
      }
      const named = {};
      for (const [id, file] of Object.entries(files)) {
        named[id] = { ...file, meta: { ...file.meta, target: `${folder}${file.name}` } };
      }
      return named;
    },
  });
  uploader.use(Uppy.Dashboard, {
    inline: true,
    target: "#uploader",
    height: 300,
    width: "100%",
    proudlyDisplayPoweredByUppy: false,
    showProgressDetails: true,
    hideRetryButton: false,
    note: "Straight to S3, signed with credentials scoped to your grant.",
  });
  uploader.use(Uppy.AwsS3, s3Callbacks);
  uploader.on("s3-multipart:part-uploaded", (file, part) => {
    const upload = multipartUploads.get(file.s3Multipart && file.s3Multipart.uploadId);
    if (upload) upload.parts.set(part.PartNumber, { ETag: part.ETag, Size: partSizeOf(file) });
  });
  uploader.on("upload-progress", (file, progress) => {
    const percent = progress.bytesTotal ? Math.floor((progress.bytesUploaded * 100) / progress.bytesTotal) : 0;
    $("upload-status").textContent = `${file.name}: ${percent}%`;
  });
  uploader.on("upload-success", (file) => uploaded(file));
  uploader.on("upload-error", (file, error) => {
    // Refusals of this API were said already (asked()); S3's own are said here.
    if (!(error instanceof ApiError) && !(error.cause instanceof ApiError)) {
      showMessage("error", `S3 refused ${file.name}.`, String(error.message || error));
    }
  });
  return uploader;
}

async function uploaded(file) {
  const target = file.meta.target;
  showMessage("success", `Uploaded ${file.name}.`, `Stored as ${target}.`);
  $("upload-status").textContent = "";
  const folder = target.slice(0, target.lastIndexOf("/") + 1);
  if (state.prefix === folder) await listObjects(false);
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
  state.uploader = createUploader();
  const user = await completeSignIn();
  document.body.dataset.ready = "true";
  if (user) await startSession(user);
}

start();
