// The dashboard's entry point: layout, client-side routing, and the error
// boundary every page renders inside (an error never leaves a blank page).
import { h, clear, errorPanel, spinner, toast } from './dom.js';
import { session, whoami, forgetMe } from './api.js';
import { signinPage, signupPage, oidcCallbackPage } from './auth.js';
import { catalogPage, deployPage } from './catalog.js';
import { deploymentsPage } from './deployments.js';
import { deploymentPage } from './deployment.js';
import { profilePage } from './profile.js';
import { usersPage, templatesPage, templateEditorPage, targetsPage, targetEditorPage, logsAdminPage } from './admin.js';

const routes = [
  { path: '/login', page: signinPage, public: true },
  { path: '/signup', page: signupPage, public: true },
  { path: '/auth/callback', page: oidcCallbackPage, public: true },
  { path: '/', redirect: '/deployments' },
  { path: '/catalog', page: catalogPage },
  { path: '/catalog/:id', page: deployPage },
  { path: '/deployments', page: deploymentsPage },
  { path: '/deployments/:id', page: deploymentPage },
  { path: '/profile', page: profilePage },
  { path: '/admin', redirect: '/admin/users' },
  { path: '/admin/users', page: usersPage, admin: true },
  { path: '/admin/templates', page: templatesPage, admin: true },
  { path: '/admin/templates/new', page: templateEditorPage, admin: true },
  { path: '/admin/templates/:id', page: templateEditorPage, admin: true },
  { path: '/admin/targets', page: targetsPage, admin: true },
  { path: '/admin/targets/new', page: targetEditorPage, admin: true },
  { path: '/admin/targets/:name', page: targetEditorPage, admin: true },
  { path: '/admin/logs', page: logsAdminPage, admin: true },
];

function match(pathname) {
  const parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const r of routes) {
    const rp = r.path.split('/').filter(Boolean);
    if (rp.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < rp.length; i++) {
      if (rp[i].startsWith(':')) params[rp[i].slice(1)] = decodeURIComponent(parts[i]);
      else if (rp[i] !== parts[i]) { ok = false; break; }
    }
    if (ok) return { route: r, params };
  }
  return null;
}

const main = document.getElementById('main');
const header = document.getElementById('header');
let current = null; // { controller, cleanups }
let renderSeq = 0;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

// replaceQuery changes the query string without a new history entry or a re-render
// (filters kept in the URL).
export function replaceQuery(params) {
  const u = new URL(location.href);
  u.search = '';
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(x));
  }
  history.replaceState(null, '', u.pathname + u.search);
}

function leave() {
  if (!current) return;
  current.controller.abort();
  for (const fn of current.cleanups) {
    try { fn(); } catch { /* a cleanup must not stop the others */ }
  }
  current = null;
}

async function render() {
  const seq = ++renderSeq;
  leave();
  const m = match(location.pathname);
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  if (m && m.route.redirect) return navigate(m.route.redirect, { replace: true });

  let me = null;
  if (!m || !m.route.public) {
    if (!session.token()) {
      return navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    }
    try {
      me = await whoami();
    } catch (err) {
      if (seq !== renderSeq) return;
      renderHeader(null);
      if (err.status === 401) return;
      clear(main, errorPanel(err, render));
      return;
    }
  }
  if (seq !== renderSeq) return;
  renderHeader(me);
  if (!m) {
    setTitle('Page not found');
    clear(main, errorPanel({ status: 404, message: `There is no page at ${location.pathname}.` }));
    return;
  }
  if (m.route.admin && !(me && me.is_admin)) {
    setTitle('Not allowed');
    clear(main, errorPanel({ status: 403, message: 'This page is for admins.' }));
    return;
  }
  clear(main, spinner());
  const ctx = {
    params: m.params,
    query: new URLSearchParams(location.search),
    me,
    signal: controller.signal,
    onLeave: (fn) => cleanups.push(fn),
    navigate,
    replaceQuery,
    refresh: render,
    setTitle,
  };
  try {
    const el = await m.route.page(ctx);
    if (seq !== renderSeq) return;
    clear(main, el);
  } catch (err) {
    if (seq !== renderSeq || err.name === 'AbortError') return;
    if (err.status === 401) return; // the signed-out handler takes over
    console.error(err);
    clear(main, errorPanel(err, render));
  }
  if (!main.contains(document.activeElement) || document.activeElement === document.body) {
    // Move focus to the new page so keyboard and screen-reader users start there.
    const heading = main.querySelector('h1');
    (heading || main).focus({ preventScroll: true });
  }
}

export function setTitle(t) {
  document.title = t ? `${t} · orchestrator` : 'orchestrator';
}

function renderHeader(me) {
  const here = location.pathname;
  const link = (href, text) => h('a', { href, class: 'nav-link', 'aria-current': here === href || (href !== '/' && here.startsWith(href + '/')) ? 'page' : null }, text);
  const nav = h('nav', { id: 'nav', class: 'nav', 'aria-label': 'Main' },
    me ? [
      link('/catalog', 'Catalog'),
      link('/deployments', me.is_admin ? 'Deployments' : 'My deployments'),
      me.is_admin ? link('/admin/users', 'Admin') : null,
    ] : null);
  const menu = h('button', { type: 'button', class: 'menu-toggle btn', 'aria-expanded': 'false', 'aria-controls': 'nav' }, 'Menu');
  menu.addEventListener('click', () => {
    const open = header.classList.toggle('open');
    menu.setAttribute('aria-expanded', String(open));
  });
  const user = me ? h('div', { class: 'user' },
    h('a', { href: '/profile', class: 'nav-link user-link', 'aria-current': here === '/profile' ? 'page' : null },
      me.picture_url ? h('img', { src: me.picture_url, alt: '', class: 'avatar', width: 24, height: 24 }) : h('span', { class: 'avatar avatar-letter', 'aria-hidden': 'true' }, (me.username || '?')[0].toUpperCase()),
      h('span', null, me.username)),
    h('button', { type: 'button', class: 'btn btn-small', onclick: signOut }, 'Sign out')) : null;
  header.classList.remove('open');
  clear(header,
    h('a', { href: me ? '/deployments' : '/login', class: 'brand' }, h('img', { src: document.querySelector('link[rel=icon]').href, alt: '', width: 22, height: 22 }), 'orchestrator'),
    me ? menu : null,
    h('div', { class: 'nav-wrap' }, nav, user),
  );
}

function signOut() {
  session.clear();
  forgetMe();
  toast('You are signed out.');
  navigate('/login');
}

window.addEventListener('orchestrator:signed-out', (e) => {
  forgetMe();
  const next = location.pathname.startsWith('/login') ? '' : `?next=${encodeURIComponent(location.pathname + location.search)}&expired=1`;
  toast(e.detail || 'Your session ended: sign in again.', 'error');
  navigate(`/login${next}`, { replace: true });
});

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  const p = a.pathname;
  if (p.startsWith('/api/') || p === '/docs' || p === '/metrics' || p === '/healthz' || p === '/readyz') return;
  e.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search + a.hash);
});

window.addEventListener('popstate', render);

// Errors outside a page's own handling still get a visible message.
window.addEventListener('unhandledrejection', (e) => {
  const err = e.reason;
  if (!err || err.name === 'AbortError' || err.status === 401) return;
  toast(err.message || String(err), 'error');
});
window.addEventListener('error', (e) => {
  if (e.message) toast(`Unexpected error: ${e.message}`, 'error');
});

render();
