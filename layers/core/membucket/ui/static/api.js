// The REST API with the signed-in token: every page goes through here, so the UI can never see
// more than the token may. The token lives in sessionStorage (gone when the tab closes).
// With auth off (loopback) the UI may act as any user in the bucket: the chosen one is sent as
// X-Membucket-User (the server ignores it with auth on, where the token is one user's).
const KEY = "membucket.token";
const USER_KEY = "membucket.user";

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set(token) { sessionStorage.setItem(KEY, token); },
  clear() { sessionStorage.removeItem(KEY); },
  get user() { return sessionStorage.getItem(USER_KEY); },
  setUser(user) { if (user) sessionStorage.setItem(USER_KEY, user); else sessionStorage.removeItem(USER_KEY); },
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status; this.code = code; this.details = details;
  }
}

function authHeaders(extra = {}) {
  // What the owner adds here is labelled "web-ui" (not "rest-api"); a label, not an app: no rule or pause applies.
  const h = { "X-Membucket-Client": "web-ui", ...extra };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  else if (session.user) h["X-Membucket-User"] = session.user;
  return h;
}

export function qs(params = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) if (item !== "") p.append(k, item);
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const e = body && body.error;
  if (res.status === 401) window.dispatchEvent(new CustomEvent("membucket:unauthorized"));
  if (e) return new ApiError(res.status, e.code, e.message, e.details);
  return new ApiError(res.status, "http_" + res.status, `${res.status} ${res.statusText || "error"}`);
}

/** JSON request to /api/v1; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(path, { method = "GET", body, query, raw = false, headers = {} } = {}) {
  const init = { method, headers: authHeaders(headers), credentials: "omit" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}${qs(query)}`, init);
  } catch (err) {
    throw new ApiError(0, "network", "the server did not answer: " + err.message);
  }
  if (!res.ok) throw await errorFrom(res);
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

/** Raw-body upload with progress (fetch has no upload progress): resolves to the JSON answer. */
export function upload(path, body, { headers = {}, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1${path}`);
    for (const [k, v] of Object.entries(authHeaders({ "Content-Type": "application/octet-stream", ...headers }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress && onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload failed: the server did not answer"));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      if (xhr.status === 401) window.dispatchEvent(new CustomEvent("membucket:unauthorized"));
      const e = data && data.error;
      reject(e ? new ApiError(xhr.status, e.code, e.message, e.details) : new ApiError(xhr.status, "http_" + xhr.status, `${xhr.status} error`));
    };
    xhr.send(body);
  });
}

let openapi = null;
/** Whether the running server has a route (e.g. export/import, merged separately). */
export async function hasRoute(path, method = "post") {
  if (!openapi) {
    const res = await fetch("/openapi.json", { credentials: "omit" });
    openapi = res.ok ? await res.json() : { paths: {} };
  }
  return Boolean(openapi.paths && openapi.paths[path] && openapi.paths[path][method]);
}
