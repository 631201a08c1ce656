// Small DOM helpers. Text always goes in as text nodes, never as HTML: nothing a
// user or a template wrote can become markup.

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

// h('div', {class: 'x', onclick: fn}, child, [children], 'text')
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = v;
      else if (k === 'ref') v(el);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A status badge: colour by the status family, text always spelled out.
export function badge(status, extra) {
  const s = String(status || 'UNKNOWN');
  let kind = 'neutral';
  if (/FAILED|ERROR|failed|cancelled/.test(s)) kind = 'bad';
  else if (/IN_PROGRESS|ING$|queued|running/.test(s)) kind = 'busy';
  else if (/COMPLETE|STARTED|CREATED|CONFIGURED|succeeded/.test(s)) kind = 'good';
  if (s === 'DELETE_COMPLETE' || s === 'DELETED' || s === 'STOPPED') kind = 'muted';
  return h('span', { class: ['badge', `badge-${kind}`, extra], 'data-status': s }, kind === 'busy' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null, s.replaceAll('_', ' '));
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : timeFmt.format(d);
}

export function timeEl(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, fmtDate(iso)) : '—';
}

// Toasts go to a polite live region so screen readers hear them too.
export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const t = h('div', { class: ['toast', `toast-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, message,
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  region.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 12000 : 5000);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API needs a secure context: fall back to a hidden textarea.
    const ta = h('textarea', { class: 'visually-hidden', readonly: true });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `${label}: ${String(text).slice(0, 60)}` }, 'Copy');
  b.addEventListener('click', async () => {
    await copyText(String(text));
    b.textContent = 'Copied';
    setTimeout(() => { b.textContent = 'Copy'; }, 1500);
  });
  return b;
}

// A modal confirmation built on <dialog>: focus is trapped and Escape cancels.
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false, extra = null }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        body ? h('div', { class: 'dialog-body' }, body) : null,
        extra,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn' }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: ['btn', danger ? 'btn-danger' : 'btn-primary'] }, confirm))));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', null, text) : null, action || null);
}

// The error panel every page falls back to: never a blank page.
export function errorPanel(err, retry) {
  const status = err && err.status;
  let title = 'Something went wrong';
  if (status === 404) title = 'Not found';
  else if (status === 403) title = 'Not allowed';
  else if (status === 0) title = 'The service cannot be reached';
  return h('div', { class: 'error-panel', role: 'alert' },
    h('h2', null, title),
    h('p', null, (err && err.message) || String(err)),
    err && err.requestId ? h('p', { class: 'muted small' }, `Request id: ${err.requestId}`) : null,
    h('div', { class: 'actions' },
      retry ? h('button', { type: 'button', class: 'btn', onclick: retry }, 'Try again') : null,
      h('a', { href: '/deployments', class: 'btn' }, 'My deployments'),
      h('a', { href: '/catalog', class: 'btn' }, 'Catalog')));
}

export function spinner(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// A labelled form field with help text and a slot for its error message.
export function field({ label, input, help, required, id }) {
  id = id || input.id || nextId();
  input.id = id;
  const helpId = `${id}-help`;
  const errId = `${id}-error`;
  const described = [help ? helpId : null, errId].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', described);
  const err = h('p', { class: 'field-error', id: errId, hidden: true });
  const wrap = h('div', { class: 'field', 'data-field': input.name || '' },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    input,
    help ? h('p', { class: 'help', id: helpId }, help) : null,
    err);
  wrap.setError = (msg) => {
    err.textContent = msg || '';
    err.hidden = !msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
    wrap.classList.toggle('invalid', !!msg);
  };
  return wrap;
}

// Shows an API error's field details next to the matching fields of a form;
// details without a field (or with an unknown one) go to the form's summary.
export function showFieldErrors(form, err, mapField = (f) => f) {
  const summary = form.querySelector('.form-errors');
  for (const w of form.querySelectorAll('.field')) w.setError && w.setError('');
  const leftovers = [];
  let first = null;
  const details = (err && err.details) || [];
  for (const d of details) {
    const name = mapField(d.field || '');
    const w = name ? form.querySelector(`.field[data-field="${CSS.escape(name)}"]`) : null;
    if (w && w.setError) {
      w.setError(d.message);
      first = first || w.querySelector('input,select,textarea');
    } else {
      leftovers.push(d.line ? `Line ${d.line}${d.column ? `:${d.column}` : ''}: ${d.message}` : d.message);
    }
  }
  if (summary) {
    const msgs = err ? (details.length === 0 ? [err.message] : leftovers) : [];
    clear(summary, msgs.length ? h('ul', null, msgs.map((m) => h('li', null, m))) : null);
    summary.hidden = msgs.length === 0;
    if (err && !first) summary.focus();
  }
  if (first) first.focus();
}

export function formErrors() {
  return h('div', { class: 'form-errors', role: 'alert', tabindex: '-1', hidden: true });
}

export function setBusy(button, busy, text) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (text) button.textContent = text;
  } else {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (button.dataset.label) button.textContent = button.dataset.label;
  }
}

export function pre(text, cls) {
  return h('pre', { class: ['code', cls], tabindex: '0' }, text);
}

// Code with line numbers (templates): each line is its own element.
export function numbered(text) {
  const lines = String(text).split('\n');
  return h('pre', { class: 'code numbered', tabindex: '0' },
    lines.map((l, i) => h('span', { class: 'line' }, h('span', { class: 'ln', 'aria-hidden': 'true' }, String(i + 1)), l, '\n')));
}

// cell is a table cell with its column name, so narrow screens can show rows
// as labelled cards; empty cells are hidden there.
export function cell(label, ...children) {
  const props = typeof label === 'object' ? label : { label };
  const empty = children.flat(Infinity).every((c) => c === null || c === undefined || c === false || c === '' || c === '—');
  return h('td', { 'data-label': props.label, class: [props.class, empty ? 'cell-empty' : ''] }, h('div', { class: 'cell' }, children));
}
