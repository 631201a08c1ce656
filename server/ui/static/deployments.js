// "My deployments" (admins: all, with an owner filter): a paginated table,
// newest first, with filters kept in the URL and statuses that update live.
import { h, clear, badge, timeEl, emptyState, field, cell } from './dom.js';
import { api, query, allPages } from './api.js';

const STATUSES = ['CREATE_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_FAILED', 'UPDATE_IN_PROGRESS', 'UPDATE_COMPLETE', 'UPDATE_FAILED',
  'DELETE_IN_PROGRESS', 'DELETE_COMPLETE', 'DELETE_FAILED', 'UNKNOWN'];

export function progressBar(progress, label = 'Resources') {
  const p = progress || {};
  const bars = [];
  const one = (name, v) => {
    if (!v || typeof v !== 'object' || !('planned' in v) || !v.planned) return;
    const pct = Math.min(100, Math.round((100 * v.done) / v.planned));
    const fill = h('span', { class: 'bar-fill' });
    fill.style.width = `${pct}%`;
    bars.push(h('div', { class: 'progress' },
      h('span', { class: 'progress-label' }, `${name}: ${v.done}/${v.planned}`),
      h('span', { class: 'bar', role: 'progressbar', 'aria-label': name, 'aria-valuemin': 0, 'aria-valuemax': v.planned, 'aria-valuenow': v.done }, fill)));
  };
  one(label, p);
  // Later steps (configuration...) are shown as the API reports them: any
  // {done, planned} object inside progress gets its own bar.
  for (const [k, v] of Object.entries(p)) if (v && typeof v === 'object') one(k.replaceAll('_', ' '), v);
  return bars.length ? h('div', { class: 'progress-list' }, bars) : null;
}

function toISO(date, endOfDay) {
  if (!date) return '';
  const d = new Date(`${date}T${endOfDay ? '23:59:59' : '00:00:00'}`);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function deploymentsPage(ctx) {
  const admin = ctx.me.is_admin;
  ctx.setTitle(admin ? 'Deployments' : 'My deployments');
  const q = ctx.query;
  const [templates, targets, users] = await Promise.all([
    api('GET', '/templates?size=1000', undefined, { signal: ctx.signal }),
    api('GET', '/targets', undefined, { signal: ctx.signal }),
    admin ? allPages('/users') : Promise.resolve([]),
  ]);
  const templateName = Object.fromEntries(templates.items.map((t) => [t.id, `${t.name} ${t.version}`]));
  const userName = Object.fromEntries(users.map((u) => [u.id, u.username]));

  const f = {
    status: h('select', { name: 'status' }, h('option', { value: '' }, 'Any status'), STATUSES.map((s) => h('option', { value: s, selected: q.get('status') === s }, s.replaceAll('_', ' ')))),
    template_id: h('select', { name: 'template_id' }, h('option', { value: '' }, 'Any template'), templates.items.map((t) => h('option', { value: t.id, selected: q.get('template_id') === t.id }, `${t.name} ${t.version}`))),
    target: h('select', { name: 'target' }, h('option', { value: '' }, 'Any target'), targets.items.map((t) => h('option', { value: t.name, selected: q.get('target') === t.name }, t.name))),
    label: h('input', { name: 'label', value: q.get('label') || '', placeholder: 'key or key=value', spellcheck: 'false' }),
    q: h('input', { name: 'q', type: 'search', value: q.get('q') || '', placeholder: 'Text in the description' }),
    from: h('input', { name: 'from', type: 'date', value: q.get('from') || '' }),
    to: h('input', { name: 'to', type: 'date', value: q.get('to') || '' }),
    deleted: h('input', { name: 'deleted', type: 'checkbox', checked: q.get('deleted') === '1' }),
    owner: admin ? h('input', { name: 'owner', value: q.get('owner') || '', placeholder: 'username', spellcheck: 'false', autocapitalize: 'none' }) : null,
  };
  let page = Number(q.get('page')) || 1;
  const size = Math.min(Number(q.get('size')) || 10, 100);

  const state = () => ({
    status: f.status.value, template_id: f.template_id.value, target: f.target.value, label: f.label.value.trim(), q: f.q.value.trim(),
    from: f.from.value, to: f.to.value, deleted: f.deleted.checked ? '1' : '', owner: f.owner ? f.owner.value.trim() : '',
    page: page > 1 ? page : '', size: size !== 10 ? size : '',
  });
  const apiQuery = (s) => query({
    status: s.status, template_id: s.template_id, target: s.target, label: s.label, q: s.q,
    created_after: toISO(s.from, false), created_before: toISO(s.to, true), include_deleted: s.deleted ? 'true' : '',
    owner: s.owner, page, size, sort: '-created_at',
  });

  const body = h('div', { class: 'table-wrap' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const errorBox = h('div');
  let lastStatuses = {};
  let timer;

  const load = async (announce) => {
    const s = state();
    ctx.replaceQuery(s);
    let res;
    try {
      res = await api('GET', `/deployments${apiQuery(s)}`, undefined, { signal: ctx.signal });
      clear(errorBox);
    } catch (err) {
      if (err.name === 'AbortError') return;
      // Rows of an earlier query would read as answers to this one.
      clear(body);
      clear(pager);
      lastStatuses = {};
      clear(errorBox, h('p', { class: 'notice notice-bad', role: 'alert' }, err.message));
      schedule(10000);
      return;
    }
    const changed = [];
    for (const d of res.items) {
      if (lastStatuses[d.id] && lastStatuses[d.id] !== d.status) changed.push(`${d.description || d.id}: ${d.status.replaceAll('_', ' ')}`);
    }
    lastStatuses = Object.fromEntries(res.items.map((d) => [d.id, d.status]));
    if (changed.length && announce) live.textContent = changed.join('. ');
    renderTable(res);
    schedule(res.items.some((d) => /IN_PROGRESS/.test(d.status)) ? 2000 : 10000);
  };
  const schedule = (ms) => {
    clearTimeout(timer);
    timer = setTimeout(() => load(true), ms);
  };
  ctx.onLeave(() => clearTimeout(timer));

  const renderTable = (res) => {
    if (res.items.length === 0) {
      const filtered = Object.entries(state()).some(([k, v]) => v && k !== 'page' && k !== 'size');
      clear(body, filtered
        ? emptyState('No deployment matches these filters.', 'Change or clear the filters above.', h('button', { type: 'button', class: 'btn', onclick: reset }, 'Clear filters'))
        : emptyState('No deployments yet.', 'Deploy a template from the catalog: it shows up here, with its status updating live.', h('a', { href: '/catalog', class: 'btn btn-primary' }, 'Open the catalog')));
      clear(pager);
      return;
    }
    clear(body, h('table', { class: 'table deployments' },
      h('caption', { class: 'visually-hidden' }, 'Deployments, newest first'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Deployment'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Template'),
        h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, 'Labels'), admin ? h('th', { scope: 'col' }, 'Owners') : null, h('th', { scope: 'col' }, 'Created'))),
      h('tbody', null, res.items.map((d) => h('tr', { 'data-id': d.id },
        cell('Deployment', h('a', { href: `/deployments/${d.id}` }, d.description || `Deployment ${d.id.slice(0, 8)}`), h('div', { class: 'muted small mono' }, d.id.slice(0, 8))),
        cell('Status', badge(d.status), /IN_PROGRESS/.test(d.status) ? progressBar(d.progress) : null),
        cell('Template', d.template_id ? (templateName[d.template_id] || 'removed from catalog') : 'own template'),
        cell('Target', d.target),
        cell('Labels', Object.entries(d.labels || {}).map(([k, v]) => h('span', { class: 'chip' }, v ? `${k}=${v}` : k))),
        admin ? cell('Owners', (d.owners || []).map((o) => userName[o] || o.slice(0, 8)).join(', ')) : null,
        cell('Created', timeEl(d.created_at)))))));
    const pg = res.page;
    clear(pager,
      h('button', { type: 'button', class: 'btn btn-small', disabled: pg.number <= 1, onclick: () => { page = pg.number - 1; load(); } }, '← Newer'),
      h('span', null, `Page ${pg.number} of ${Math.max(pg.total_pages, 1)} · ${pg.total_items} deployment${pg.total_items === 1 ? '' : 's'}`),
      h('button', { type: 'button', class: 'btn btn-small', disabled: pg.number >= pg.total_pages, onclick: () => { page = pg.number + 1; load(); } }, 'Older →'));
  };

  const reset = () => {
    for (const el of Object.values(f)) {
      if (!el) continue;
      if (el.type === 'checkbox') el.checked = false;
      else el.value = '';
    }
    page = 1;
    load();
  };
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter deployments' },
    field({ label: 'Status', input: f.status }),
    field({ label: 'Template', input: f.template_id }),
    field({ label: 'Target', input: f.target }),
    field({ label: 'Label', input: f.label }),
    field({ label: 'Search', input: f.q }),
    field({ label: 'Created from', input: f.from }),
    field({ label: 'Created until', input: f.to }),
    admin ? field({ label: 'Owner', input: f.owner }) : null,
    h('div', { class: 'field field-check' }, h('label', null, f.deleted, ' Show deleted')),
    h('div', { class: 'field field-actions' }, h('button', { type: 'button', class: 'btn btn-small', onclick: reset }, 'Clear')));
  let debounce;
  filters.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { page = 1; load(); }, 300);
  });
  filters.addEventListener('submit', (e) => { e.preventDefault(); page = 1; load(); });

  await load();
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, admin ? 'Deployments' : 'My deployments'), h('a', { href: '/catalog', class: 'btn btn-primary' }, 'New deployment')),
    filters, errorBox, live, body, pager);
}
