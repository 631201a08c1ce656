// The log viewer of a deployment: level, source, run and text filters, and
// follow (Server-Sent Events read with fetch, so the token stays in a header).
import { h, clear, field, fmtTime, emptyState, spinner } from './dom.js';
import { api, query, follow } from './api.js';

const MAX_LINES = 5000;

export function logViewer(ctx, deploymentId, runs) {
  const level = h('select', { name: 'level' }, h('option', { value: '' }, 'All levels'),
    ['debug', 'info', 'warn', 'error'].map((l) => h('option', { value: l }, `${l} and above`)));
  const source = h('select', { name: 'source' }, h('option', { value: '' }, 'All sources'),
    ['orchestrator', 'tosca2tf', 'terraform'].map((s) => h('option', { value: s }, s)));
  const run = h('select', { name: 'run' }, h('option', { value: '' }, 'All runs'),
    runs.map((r) => h('option', { value: r.id }, `${r.kind}${r.params && r.params.action ? ` (${r.params.action})` : ''} · ${fmtTime(r.created_at)} · ${r.status}`)));
  const text = h('input', { name: 'text', type: 'search', placeholder: 'Find in lines', spellcheck: 'false' });
  const followBox = h('input', { name: 'follow', type: 'checkbox', checked: true });
  const out = h('div', { class: 'log', role: 'log', 'aria-live': 'off', tabindex: '0', 'aria-label': 'Log lines' });
  const status = h('p', { class: 'muted small log-status', role: 'status' });
  const q = ctx.query;
  if (q.get('level')) level.value = q.get('level');
  if (q.get('source')) source.value = q.get('source');
  if (q.get('run')) run.value = q.get('run');

  let controller = null;
  let lastSeq = 0;
  let count = 0;
  let following = false;

  const matches = (line) => !text.value || line.message.toLowerCase().includes(text.value.toLowerCase());
  const lineEl = (l) => h('div', { class: ['log-line', `lvl-${l.level}`], 'data-source': l.source, 'data-level': l.level, hidden: !matches(l) },
    h('time', { datetime: l.time, class: 'log-time' }, fmtTime(l.time)),
    h('span', { class: 'log-level' }, l.level),
    h('span', { class: 'log-source' }, l.source),
    h('span', { class: 'log-msg' }, l.resource ? `[${l.resource}] ` : '', l.message));
  const add = (lines) => {
    if (!lines.length) return;
    const atBottom = out.scrollHeight - out.scrollTop - out.clientHeight < 40;
    const empty = out.querySelector('.empty');
    if (empty) empty.remove();
    out.append(...lines.map((l) => { l.message = String(l.message); return Object.assign(lineEl(l), { _line: l }); }));
    count += lines.length;
    while (out.childElementCount > MAX_LINES) out.firstElementChild.remove();
    for (const l of lines) lastSeq = Math.max(lastSeq, l.seq);
    if (followBox.checked || atBottom) out.scrollTop = out.scrollHeight;
    showCount();
  };
  const showCount = () => {
    const shown = out.querySelectorAll('.log-line:not([hidden])').length;
    status.textContent = `${shown} line${shown === 1 ? '' : 's'}${text.value ? ` matching “${text.value}”` : ''}${following ? ' · following' : ''}`;
  };
  const filters = () => ({ level: level.value, source: source.value, run_id: run.value });

  const stop = () => {
    if (controller) controller.abort();
    controller = null;
    following = false;
  };
  // startFollow streams lines after the last one shown until the deployment settles.
  const startFollow = () => {
    if (!followBox.checked || following) return;
    stop();
    controller = new AbortController();
    const c = controller;
    following = true;
    showCount();
    follow(`/deployments/${deploymentId}/logs${query({ ...filters(), follow: 'true' })}`, {
      signal: c.signal, after: lastSeq,
      onEvent: (event, data) => { if (event === 'log') add([data]); },
    }).catch((err) => {
      status.textContent = `Following stopped: ${err.message}`;
    }).finally(() => {
      if (controller === c) { following = false; controller = null; showCount(); }
    });
  };

  const reload = async () => {
    stop();
    ctx.replaceQuery({ ...Object.fromEntries(new URLSearchParams(location.search)), tab: 'logs', level: level.value, source: source.value, run: run.value });
    clear(out, spinner('Loading the log…'));
    lastSeq = 0;
    count = 0;
    const base = `/deployments/${deploymentId}/logs`;
    let res = await api('GET', base + query({ ...filters(), size: 1000 }), undefined, { signal: ctx.signal });
    if (res.page.total_pages > 1) {
      // Long logs: show the newest page.
      res = await api('GET', base + query({ ...filters(), size: 1000, page: res.page.total_pages }), undefined, { signal: ctx.signal });
      clear(out, h('p', { class: 'muted small' }, `Showing the newest ${res.items.length} of ${res.page.total_items} lines.`));
    } else clear(out);
    if (res.items.length === 0) {
      out.append(emptyState('No log lines match these filters.', level.value || source.value || run.value ? 'Widen the filters to see more.' : 'Lines appear here as soon as a run starts.'));
    }
    add(res.items);
    showCount();
    startFollow();
  };

  for (const el of [level, source, run]) el.addEventListener('change', () => { reload().catch(showError); });
  text.addEventListener('input', () => {
    for (const el of out.querySelectorAll('.log-line')) el.hidden = !matches(el._line);
    showCount();
  });
  followBox.addEventListener('change', () => {
    if (followBox.checked) {
      out.scrollTop = out.scrollHeight;
      startFollow();
    } else stop();
    showCount();
  });
  const showError = (err) => {
    if (err.name !== 'AbortError') clear(out, h('p', { class: 'notice notice-bad', role: 'alert' }, err.message));
  };
  ctx.onLeave(stop);

  const el = h('div', { class: 'logs' },
    h('form', { class: 'filters', 'aria-label': 'Filter the log', onsubmit: (e) => e.preventDefault() },
      field({ label: 'Level', input: level }), field({ label: 'Source', input: source }), field({ label: 'Run', input: run }),
      field({ label: 'Find', input: text }),
      h('div', { class: 'field field-check' }, h('label', null, followBox, ' Follow'))),
    status, out);
  return { el, load: () => reload().catch(showError), kick: startFollow, stop };
}
