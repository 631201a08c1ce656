// The API client. The session is the API's own token, kept in sessionStorage
// (gone when the tab closes) and sent as a header: never in a URL, never in a
// cookie the browser would attach to other requests.

const KEY = 'orchestrator.session';

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      if (s && s.expires_at && new Date(s.expires_at) <= new Date()) {
        sessionStorage.removeItem(KEY);
        return null;
      }
      return s;
    } catch {
      return null;
    }
  },
  token() {
    const s = this.get();
    return s ? s.token : '';
  },
  set(token, expiresAt, method) {
    sessionStorage.setItem(KEY, JSON.stringify({ token, expires_at: expiresAt || null, method }));
  },
  clear() {
    sessionStorage.removeItem(KEY);
    me = null;
  },
};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = (body && body.error) || {};
    super(e.message || fallback || `request failed (${status})`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'unreachable' : 'error');
    this.details = Array.isArray(e.details) ? e.details : [];
    this.requestId = e.request_id || '';
  }
}

// api('GET', '/deployments') -> parsed JSON (or text for YAML and the like).
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path.startsWith('/') && !path.startsWith('/api/') ? `/api/v1${path}` : path, {
      method, headers, body: payload, signal: opts.signal, cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null, 'The service cannot be reached. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const isJSON = type.includes('json');
  let data = null;
  try {
    data = opts.text || !isJSON ? await res.text() : await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    let errBody = data;
    if (typeof data === 'string') {
      try { errBody = JSON.parse(data); } catch { errBody = null; }
    }
    const err = new ApiError(res.status, errBody);
    if (res.status === 401 && token && !opts.noRedirect) {
      session.clear();
      window.dispatchEvent(new CustomEvent('orchestrator:signed-out', { detail: err.message }));
    }
    throw err;
  }
  return data;
}

let me = null;

// whoami returns the signed-in user (cached for the page's life).
export async function whoami(refresh = false) {
  if (!session.token()) return null;
  if (me && !refresh) return me;
  me = await api('GET', '/users/me');
  return me;
}

export function forgetMe() {
  me = null;
}

let authConfig = null;
export async function getAuthConfig() {
  if (!authConfig) authConfig = await api('GET', '/auth/config', undefined, { noRedirect: true });
  return authConfig;
}

// query builds "?a=1&b=2" from an object, skipping empty values; arrays repeat.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    for (const x of Array.isArray(v) ? v : [v]) if (x !== '') q.append(k, String(x));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// follow streams Server-Sent Events from the API with the token in a header
// (EventSource cannot send one). It resumes after the last event id when the
// connection drops, and returns when the stream says "end" or signal aborts.
export async function follow(path, { signal, after, onEvent }) {
  let last = after;
  for (let attempt = 0; !signal.aborted; attempt++) {
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${session.token()}` };
    if (last !== undefined && last !== null) headers['Last-Event-ID'] = String(last);
    let res;
    try {
      res = await fetch(`/api/v1${path}`, { headers, signal, cache: 'no-store' });
    } catch (e) {
      if (signal.aborted) return;
      await sleep(Math.min(1000 * (attempt + 1), 5000), signal);
      continue;
    }
    if (!res.ok) {
      let body = null;
      try { body = await res.json(); } catch { /* not JSON */ }
      throw new ApiError(res.status, body);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let ended = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
          }
          if (ev.id) last = ev.id;
          let data = null;
          try { data = JSON.parse(ev.data); } catch { data = ev.data; }
          onEvent(ev.event, data);
          if (ev.event === 'end') ended = true;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    if (ended) return;
    await sleep(1000, signal);
  }
}

export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// allPages fetches every page of a list route (small lists: users, owners).
export async function allPages(path, size = 1000) {
  const out = [];
  for (let page = 1; page < 100; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await api('GET', `${path}${sep}page=${page}&size=${size}`);
    out.push(...res.items);
    if (page >= res.page.total_pages) break;
  }
  return out;
}
