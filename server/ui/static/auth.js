// Sign-in (local accounts, or an OIDC provider with the authorization code flow
// and PKCE) and sign-up.
import { h, field, formErrors, showFieldErrors, setBusy, errorPanel, spinner, clear, toast } from './dom.js';
import { api, session, getAuthConfig, whoami, forgetMe, ApiError } from './api.js';

function safeNext(next) {
  // Only same-site paths: an attacker's ?next=https://evil must not redirect away.
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/deployments';
}

function card(title, ...children) {
  return h('div', { class: 'auth-page' }, h('section', { class: 'card auth-card', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title', tabindex: '-1' }, title), ...children));
}

export async function signinPage(ctx) {
  ctx.setTitle('Sign in');
  if (session.token()) {
    try {
      await whoami();
      ctx.navigate(safeNext(ctx.query.get('next')), { replace: true });
      return spinner();
    } catch { /* the stored session is no good: sign in again */ }
  }
  let cfg;
  try {
    cfg = await getAuthConfig();
  } catch (err) {
    return errorPanel(err, ctx.refresh);
  }
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const errors = formErrors();
  const form = h('form', { class: 'form', novalidate: true },
    errors,
    field({ label: 'Username', input: username, required: true }),
    field({ label: 'Password', input: password, required: true }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!username.value.trim() || !password.value) {
      showFieldErrors(form, new ApiError(422, { error: { message: 'Enter your username and password.', details: [
        ...(!username.value.trim() ? [{ field: 'username', message: 'Enter your username.' }] : []),
        ...(!password.value ? [{ field: 'password', message: 'Enter your password.' }] : []),
      ] } }));
      return;
    }
    setBusy(submit, true, 'Signing in…');
    try {
      const res = await api('POST', '/auth/login', { username: username.value.trim(), password: password.value }, { noRedirect: true });
      session.set(res.token, res.expires_at, 'local');
      forgetMe();
      ctx.navigate(safeNext(ctx.query.get('next')), { replace: true });
    } catch (err) {
      showFieldErrors(form, err);
      password.select();
    } finally {
      setBusy(submit, false);
    }
  });
  const expired = ctx.query.get('expired') ? h('p', { class: 'notice' }, 'Your session ended: sign in again to continue.') : null;
  const oidc = cfg.oidc ? h('div', { class: 'oidc' },
    cfg.oidc.error ? h('p', { class: 'notice notice-bad' }, `Sign-in with your organisation is unavailable: ${cfg.oidc.error}`) : null,
    h('button', { type: 'button', class: 'btn btn-block', disabled: !!cfg.oidc.error, onclick: () => startOIDC(cfg.oidc, ctx.query.get('next')) },
      `Sign in with ${new URL(cfg.oidc.issuer).host}`),
    h('p', { class: 'divider' }, h('span', null, 'or with a local account'))) : null;
  return card('Sign in', expired, oidc, form,
    cfg.signup ? h('p', { class: 'muted center' }, 'New here? ', h('a', { href: '/signup' }, 'Create an account')) : null);
}

export async function signupPage(ctx) {
  ctx.setTitle('Create an account');
  const cfg = await getAuthConfig();
  if (!cfg.signup) {
    return card('Create an account', h('p', null, 'Local sign-up is turned off on this service. ',
      cfg.oidc ? 'Sign in with your organisation instead.' : 'Ask an administrator for an account.'), h('p', null, h('a', { href: '/login' }, 'Back to sign-in')));
  }
  const inputs = {
    username: h('input', { name: 'username', autocomplete: 'username', required: true, minlength: 2, maxlength: 63, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{1,62}', autocapitalize: 'none', spellcheck: 'false' }),
    name: h('input', { name: 'name', autocomplete: 'name', maxlength: 200 }),
    email: h('input', { name: 'email', type: 'email', autocomplete: 'email' }),
    password: h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 72 }),
    confirm: h('input', { name: 'confirm', type: 'password', autocomplete: 'new-password', required: true }),
  };
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create account');
  const form = h('form', { class: 'form', novalidate: true }, formErrors(),
    field({ label: 'Username', input: inputs.username, required: true, help: '2 to 63 letters, digits, dots, dashes or underscores.' }),
    field({ label: 'Full name', input: inputs.name }),
    field({ label: 'E-mail', input: inputs.email }),
    field({ label: 'Password', input: inputs.password, required: true, help: 'At least 8 characters.' }),
    field({ label: 'Repeat the password', input: inputs.confirm, required: true }),
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const details = [];
    for (const [k, el] of Object.entries(inputs)) {
      if (!el.checkValidity()) details.push({ field: k, message: el.validationMessage });
    }
    if (inputs.confirm.value !== inputs.password.value) details.push({ field: 'confirm', message: 'The passwords differ.' });
    if (details.length) {
      showFieldErrors(form, new ApiError(422, { error: { message: 'Check the highlighted fields.', details } }));
      return;
    }
    setBusy(submit, true, 'Creating…');
    try {
      const body = { username: inputs.username.value.trim(), password: inputs.password.value };
      if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
      if (inputs.email.value.trim()) body.email = inputs.email.value.trim();
      await api('POST', '/users', body, { noRedirect: true });
      const res = await api('POST', '/auth/login', { username: body.username, password: body.password }, { noRedirect: true });
      session.set(res.token, res.expires_at, 'local');
      forgetMe();
      toast(`Welcome, ${body.username}!`);
      ctx.navigate('/catalog', { replace: true });
    } catch (err) {
      showFieldErrors(form, err);
    } finally {
      setBusy(submit, false);
    }
  });
  return card('Create an account', form, h('p', { class: 'muted center' }, 'Already registered? ', h('a', { href: '/login' }, 'Sign in')));
}

// --- OIDC: authorization code flow with PKCE, as a public client ---

const OIDC_KEY = 'orchestrator.oidc';

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function startOIDC(oidc, next) {
  const verifier = randomString(48);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = randomString(16);
  const nonce = randomString(16);
  sessionStorage.setItem(OIDC_KEY, JSON.stringify({ verifier, state, nonce, next: safeNext(next) }));
  const u = new URL(oidc.authorization_endpoint);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', oidc.client_id);
  u.searchParams.set('redirect_uri', `${location.origin}/auth/callback`);
  u.searchParams.set('scope', oidc.scopes);
  u.searchParams.set('state', state);
  u.searchParams.set('nonce', nonce);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  location.assign(u.toString());
}

export async function oidcCallbackPage(ctx) {
  ctx.setTitle('Signing in');
  const code = ctx.query.get('code');
  const state = ctx.query.get('state');
  const idpError = ctx.query.get('error_description') || ctx.query.get('error');
  // The code must not stay in the address bar or the history.
  history.replaceState(null, '', '/auth/callback');
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(OIDC_KEY) || 'null'); } catch { saved = null; }
  sessionStorage.removeItem(OIDC_KEY);
  const fail = (msg) => card('Sign-in failed', h('p', { role: 'alert' }, msg), h('p', null, h('a', { href: '/login', class: 'btn' }, 'Back to sign-in')));
  if (idpError) return fail(`The identity provider said: ${idpError}`);
  if (!code || !saved || state !== saved.state) return fail('This sign-in response does not match a sign-in started here. Start again.');
  const cfg = await getAuthConfig();
  if (!cfg.oidc || !cfg.oidc.token_endpoint) return fail('Sign-in with an identity provider is not configured.');
  let tok;
  try {
    const res = await fetch(cfg.oidc.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${location.origin}/auth/callback`,
        client_id: cfg.oidc.client_id, code_verifier: saved.verifier }),
    });
    tok = await res.json();
    if (!res.ok || !tok.access_token) return fail(`The identity provider refused the sign-in: ${tok.error_description || tok.error || res.status}`);
  } catch (err) {
    return fail(`The identity provider cannot be reached: ${err.message}`);
  }
  const expires = tok.expires_in ? new Date(Date.now() + tok.expires_in * 1000).toISOString() : null;
  session.set(tok.access_token, expires, 'oidc');
  forgetMe();
  try {
    await whoami(true);
  } catch (err) {
    if (err.status !== 403) {
      session.clear();
      return fail(err.message);
    }
    // A first visit: register this identity, then carry on.
    try {
      await api('POST', '/users', {});
      await whoami(true);
      toast('Welcome! Your account was created from your identity provider.');
    } catch (err2) {
      session.clear();
      return fail(`Registration failed: ${err2.message}`);
    }
  }
  ctx.navigate(saved.next, { replace: true });
  const wrap = h('div');
  clear(wrap, spinner('Signing in…'));
  return wrap;
}
