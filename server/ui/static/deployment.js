// One deployment: status and progress live, resources with their actions,
// outputs, logs, runs, the template, the generated Terraform, the state, the
// update form with a plan preview, owners (admins) and deletion.
import { h, clear, badge, timeEl, fmtTime, emptyState, copyButton, confirmDialog, toast, numbered, pre, spinner, field, formErrors, showFieldErrors, setBusy, errorPanel, cell } from './dom.js';
import { api, ApiError } from './api.js';
import { progressBar } from './deployments.js';
import { logViewer } from './logs.js';
import { planView } from './catalog.js';
import { inputFields, readFields, parseLabels, formatLabels } from './inputs.js';

const UPDATABLE = ['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'UPDATE_FAILED'];
const TRANSITIONAL = ['INITIAL', 'CREATING', 'CONFIGURING', 'STARTING', 'STOPPING', 'DELETING'];
// duration says how long a run took (or has been running).
function duration(r) {
  if (!r.started_at) return '—';
  const end = r.finished_at ? new Date(r.finished_at) : new Date();
  const s = Math.max(0, (end - new Date(r.started_at)) / 1000);
  const text = s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return r.finished_at ? text : `${text} so far`;
}
const busy = (d) => /IN_PROGRESS/.test(d.status);
const deleted = (d) => d.status === 'DELETE_COMPLETE' || !!d.deleted_at;

export async function deploymentPage(ctx) {
  const id = ctx.params.id;
  let d = await api('GET', `/deployments/${encodeURIComponent(id)}`, undefined, { signal: ctx.signal });
  const admin = ctx.me.is_admin;
  const title = () => d.description || `Deployment ${d.id.slice(0, 8)}`;
  ctx.setTitle(title());

  const head = h('div', { class: 'deployment-head' });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', tabindex: '0', id: 'tab-panel' });
  const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  const tabs = [
    ['overview', 'Overview'], ['logs', 'Logs'], ['runs', 'Runs'], ['template', 'Template'], ['terraform', 'Terraform'],
    ['state', 'State'], ['update', 'Update'], ...(admin ? [['owners', 'Owners']] : []),
  ];
  let tab = tabs.some(([k]) => k === ctx.query.get('tab')) ? ctx.query.get('tab') : 'overview';
  const tabButtons = tabs.map(([key, label]) => {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${key}`, 'aria-controls': 'tab-panel', class: 'tab', 'data-tab': key }, label);
    b.addEventListener('click', () => select(key));
    b.addEventListener('keydown', (e) => {
      const i = tabs.findIndex(([k]) => k === key);
      const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : null;
      if (next === null) return;
      e.preventDefault();
      const k = tabs[(next + tabs.length) % tabs.length][0];
      select(k);
      document.getElementById(`tab-${k}`).focus();
    });
    return b;
  });
  const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Deployment sections' }, tabButtons);

  // Views refresh themselves when the deployment changes (onChange).
  let view = null;
  const views = { overview, logs, runs, template: templateView, terraform, state: stateView, update, owners };
  async function select(key) {
    tab = key;
    for (const b of tabButtons) {
      const on = b.dataset.tab === key;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `tab-${key}`);
    const keep = Object.fromEntries(new URLSearchParams(location.search));
    if (key !== 'logs') { delete keep.level; delete keep.source; delete keep.run; }
    ctx.replaceQuery({ ...keep, tab: key === 'overview' ? '' : key });
    if (view && view.stop) view.stop();
    clear(panel, spinner());
    try {
      view = await views[key]();
      if (tab !== key) return;
      clear(panel, view.el);
      if (view.load) await view.load();
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (tab === key) clear(panel, errorPanel(err, () => select(key)));
    }
  }

  // --- the header: status, progress, reason, facts, actions ---
  function renderHead() {
    const fact = (name, value) => h('div', null, h('dt', null, name), h('dd', null, value));
    const facts = h('dl', { class: 'facts' },
      h('div', { class: 'status-cell' }, h('dt', null, 'Status'), h('dd', null, badge(d.status, 'badge-large'))),
      fact('Target', d.target),
      fact('Template', d.template_id ? h('a', { href: `/catalog/${d.template_id}` }, 'catalog template') : 'own template'),
      fact('Created', timeEl(d.created_at)),
      fact('Updated', timeEl(d.updated_at)),
      d.deleted_at ? fact('Deleted', timeEl(d.deleted_at)) : null,
      fact('Id', h('span', { class: 'mono small' }, d.id)));
    const actions = h('div', { class: 'actions' },
      !deleted(d) ? h('button', { type: 'button', class: 'btn btn-danger', disabled: busy(d) && d.status === 'DELETE_IN_PROGRESS', onclick: softDelete }, 'Delete') : null,
      busy(d) ? h('button', { type: 'button', class: 'btn', onclick: resetStalled, title: 'For a deployment stuck in progress with no run working on it' }, 'Reset stalled') : null,
      admin ? h('button', { type: 'button', class: 'btn btn-danger-outline', onclick: hardDelete }, 'Hard delete') : null);
    clear(head,
      h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '/deployments' }, admin ? 'Deployments' : 'My deployments'), ' / ', title()),
      h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title()), actions),
      facts,
      busy(d) ? progressBar(d.progress) : null,
      d.status_reason ? h('p', { class: ['notice', /FAILED/.test(d.status) ? 'notice-bad' : ''], role: /FAILED/.test(d.status) ? 'alert' : null }, h('strong', null, 'Reason: '), d.status_reason) : null,
      deleted(d) ? h('p', { class: 'notice' }, 'This deployment is deleted: its infrastructure is gone, its record, template and logs are kept.') : null);
  }

  // --- live status: poll faster while a run works ---
  let timer;
  const poll = async () => {
    try {
      const next = await api('GET', `/deployments/${id}`, undefined, { signal: ctx.signal });
      const changed = next.status !== d.status || next.updated_at !== d.updated_at || JSON.stringify(next.progress) !== JSON.stringify(d.progress);
      const statusChanged = next.status !== d.status;
      d = next;
      if (changed) {
        renderHead();
        if (statusChanged) live.textContent = `Status: ${d.status.replaceAll('_', ' ')}`;
        if (view && view.onChange) view.onChange(statusChanged);
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err.status === 404) {
        clear(head, errorPanel(err));
        clear(panel);
        return;
      }
    }
    timer = setTimeout(poll, busy(d) ? 1500 : 6000);
  };
  ctx.onLeave(() => { clearTimeout(timer); if (view && view.stop) view.stop(); });
  const pollSoon = () => { clearTimeout(timer); timer = setTimeout(poll, 300); };

  // watchRun follows a day-2 action's run (the deployment's status does not
  // change for those) and refreshes the view as its resources move.
  const watchRun = async (run) => {
    for (let r = run; !ctx.signal.aborted;) {
      await new Promise((res) => setTimeout(res, 1000));
      try {
        r = await api('GET', `/runs/${r.id}`, undefined, { signal: ctx.signal });
      } catch { return; }
      if (view && view.onChange) view.onChange(false);
      if (r.status === 'succeeded' || r.status === 'failed' || r.status === 'cancelled') {
        const what = r.params && r.params.action ? `${r.params.action} of ${r.params.node}` : r.kind;
        if (r.status === 'succeeded') toast(`${what} done.`);
        else toast(`${what} ${r.status}: ${r.error || 'no reason given'}`, 'error');
        pollSoon();
        return;
      }
    }
  };

  // --- actions ---
  async function softDelete() {
    const ok = await confirmDialog({ title: 'Delete this deployment?', danger: true, confirm: 'Delete',
      body: 'Terraform destroys its infrastructure. The record, template and logs are kept.' });
    if (!ok) return;
    try {
      d = await api('DELETE', `/deployments/${id}`);
      toast('Deletion started.');
      renderHead();
      if (view && view.onChange) view.onChange(true);
      pollSoon();
    } catch (err) { toast(err.message, 'error'); }
  }
  async function hardDelete() {
    const force = h('input', { type: 'checkbox', name: 'force' });
    const ok = await confirmDialog({ title: 'Hard delete this deployment?', danger: true, confirm: 'Hard delete',
      body: 'Removes the deployment and everything stored for it (logs, runs, states). This cannot be undone.',
      extra: deleted(d) ? null : h('label', { class: 'check' }, force, ' Even though its infrastructure may still exist') });
    if (!ok) return;
    try {
      await api('DELETE', `/deployments/${id}?hard=true${force.checked ? '&force=true' : ''}`);
      toast('The deployment was removed.');
      ctx.navigate('/deployments');
    } catch (err) { toast(err.message, 'error'); }
  }
  async function resetStalled() {
    const ok = await confirmDialog({ title: 'Reset a stalled deployment?', confirm: 'Reset',
      body: 'Only for a deployment no run works on any more: it is marked failed so you can retry or delete it.' });
    if (!ok) return;
    try {
      d = await api('POST', `/deployments/${id}/reset`);
      renderHead();
      toast('The deployment was reset.');
    } catch (err) { toast(err.message, 'error'); }
  }

  // --- overview: details, resources, outputs ---
  async function overview() {
    const details = detailsForm();
    const resBox = h('div');
    const outBox = h('div');
    const load = async () => {
      const [res, outs] = await Promise.all([
        api('GET', `/deployments/${id}/resources`, undefined, { signal: ctx.signal }),
        api('GET', `/deployments/${id}/outputs`, undefined, { signal: ctx.signal }),
      ]);
      clear(resBox, resourcesTable(res.items));
      clear(outBox, outputsList(outs.outputs || {}));
    };
    return {
      el: h('div', { class: 'overview' },
        h('section', { 'aria-labelledby': 'res-h' }, h('h2', { id: 'res-h' }, 'Resources'), resBox),
        h('section', { 'aria-labelledby': 'out-h' }, h('h2', { id: 'out-h' }, 'Outputs'), outBox),
        h('section', { 'aria-labelledby': 'det-h' }, h('h2', { id: 'det-h' }, 'Description and labels'), details)),
      load,
      onChange: () => load().catch(() => {}),
    };
  }

  function detailsForm() {
    const desc = h('input', { name: 'description', value: d.description, maxlength: 1000 });
    const labels = h('textarea', { name: 'labels', rows: 2, class: 'mono', value: formatLabels(d.labels), spellcheck: 'false', placeholder: 'project=genomics' });
    const save = h('button', { type: 'submit', class: 'btn' }, 'Save');
    const form = h('form', { class: 'form form-inline-wide', novalidate: true }, formErrors(),
      field({ label: 'Description', input: desc }), field({ label: 'Labels', input: labels, help: 'One key=value per line.' }), h('div', { class: 'actions' }, save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const lab = parseLabels(labels.value);
      if (lab.errors.length) {
        showFieldErrors(form, new ApiError(422, { error: { message: lab.errors[0], details: lab.errors.map((m) => ({ field: 'labels', message: m })) } }));
        return;
      }
      setBusy(save, true, 'Saving…');
      try {
        // Labels are replaced as a whole: removed ones must go too.
        d = await api('PATCH', `/deployments/${id}`, { description: desc.value.trim(), labels: lab.labels });
        showFieldErrors(form, null);
        renderHead();
        ctx.setTitle(title());
        toast('Saved.');
      } catch (err) {
        showFieldErrors(form, err, (f) => (f.startsWith('labels') ? 'labels' : f));
      } finally { setBusy(save, false); }
    });
    return form;
  }

  function resourceActions(r) {
    // The API may list a resource's actions (later: reconfigure); compute
    // resources otherwise have start, stop and reboot.
    const list = Array.isArray(r.actions) ? r.actions : r.kind === 'compute' ? ['start', 'stop', 'reboot'] : [];
    const off = busy(d) || deleted(d) || r.state === 'DELETED';
    const buttons = list.map((a) => h('button', {
      type: 'button', class: 'btn btn-small', 'data-action': a,
      disabled: off || (a === 'start' && r.state === 'STARTED') || (a === 'stop' && r.state === 'STOPPED') || (a === 'reboot' && r.state === 'STOPPED'),
      'aria-label': `${a} ${r.node}[${r.instance}]`,
      onclick: async (e) => {
        const btn = e.currentTarget;
        setBusy(btn, true);
        try {
          const run = await api('POST', `/deployments/${id}/resources/${r.id}/actions`, { action: a });
          toast(`${a} of ${r.node}[${r.instance}] queued.`);
          watchRun(run);
        } catch (err) { toast(err.message, 'error'); setBusy(btn, false); }
      },
    }, a[0].toUpperCase() + a.slice(1)));
    if (TRANSITIONAL.includes(r.state) && !busy(d)) {
      buttons.push(h('button', { type: 'button', class: 'btn btn-small', title: 'Mark a stalled resource as ERROR', onclick: async () => {
        try { await api('POST', `/deployments/${id}/resources/${r.id}/reset`); toast('Resource reset.'); pollSoon(); } catch (err) { toast(err.message, 'error'); }
      } }, 'Reset'));
    }
    return buttons;
  }

  function resourcesTable(items) {
    if (!items.length) {
      return emptyState(busy(d) ? 'No resources yet.' : 'This deployment has no resources.', busy(d) ? 'They appear as Terraform creates them.' : null);
    }
    const attrs = (a) => {
      const keys = ['public_address', 'private_address', 'flavor', 'image', 'size'].filter((k) => a && a[k] !== undefined && a[k] !== null && a[k] !== '');
      return keys.length ? h('dl', { class: 'attrs' }, keys.map((k) => [h('dt', null, k.replaceAll('_', ' ')), h('dd', { class: 'mono' }, String(a[k]))])) : null;
    };
    return h('div', { class: 'table-wrap' }, h('table', { class: 'table resources' },
      h('thead', null, h('tr', null, ['Resource', 'State', 'Address', 'Details', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, items.map((r) => h('tr', { 'data-node': r.node, 'data-resource': r.id },
        cell('Resource', h('strong', null, `${r.node}[${r.instance}]`), h('div', { class: 'muted small' }, r.tosca_type)),
        cell('State', badge(r.state)),
        cell('Address', h('code', null, r.address), r.cloud_id ? h('div', { class: 'muted small mono' }, r.cloud_id) : null),
        cell('Details', attrs(r.attributes)),
        cell({ label: 'Actions', class: 'cell-actions' }, resourceActions(r)))))));
  }

  function outputsList(outputs) {
    const entries = Object.entries(outputs);
    if (!entries.length) return emptyState('No outputs.', busy(d) ? 'Outputs appear when the run finishes.' : 'The template declares none, or they have no value yet.');
    return h('dl', { class: 'outputs' }, entries.map(([k, v]) => {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      const isURL = typeof v === 'string' && /^https?:\/\/[^\s]+$/.test(v);
      return h('div', { class: 'output', 'data-output': k },
        h('dt', null, k),
        h('dd', null, isURL ? h('a', { href: v, target: '_blank', rel: 'noopener noreferrer' }, v) : h('code', null, text), ' ', copyButton(text, `Copy ${k}`)));
    }));
  }

  // --- logs, runs ---
  async function logs() {
    const runsList = await api('GET', `/deployments/${id}/runs?size=100`, undefined, { signal: ctx.signal });
    const v = logViewer(ctx, id, runsList.items);
    // Any change (a new run, an action's run moving) may have new lines: follow
    // again; kick does nothing while a stream is open.
    return { el: v.el, load: v.load, stop: v.stop, onChange: () => v.kick() };
  }

  async function runs() {
    const box = h('div');
    const load = async () => {
      const res = await api('GET', `/deployments/${id}/runs?size=100`, undefined, { signal: ctx.signal });
      if (!res.items.length) { clear(box, emptyState('No runs yet.')); return; }
      clear(box, h('div', { class: 'table-wrap' }, h('table', { class: 'table runs' },
        h('thead', null, h('tr', null, ['Run', 'Status', 'Queued', 'Started', 'Took', 'Error', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, res.items.map((r) => h('tr', { 'data-run': r.id },
          cell('Run', h('strong', null, r.kind), r.params && r.params.action ? ` ${r.params.action} ${r.params.node || ''}` : '', h('div', { class: 'muted small mono' }, r.id.slice(0, 8))),
          cell('Status', badge(r.status)),
          cell('Queued', timeEl(r.created_at)),
          cell('Started', r.started_at ? h('time', { datetime: r.started_at, title: r.started_at }, fmtTime(r.started_at)) : '—'),
          cell('Took', duration(r)),
          cell({ label: 'Error', class: 'run-error' }, r.error || '—'),
          cell('Actions', r.status === 'queued' || r.status === 'running'
            ? h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', onclick: async () => {
              if (!(await confirmDialog({ title: 'Cancel this run?', body: 'Terraform is interrupted; what it did so far stays in the state.', confirm: 'Cancel the run', danger: true }))) return;
              try { await api('POST', `/runs/${r.id}/cancel`); toast('Cancel requested.'); load(); pollSoon(); } catch (err) { toast(err.message, 'error'); }
            } }, 'Cancel') : null)))))));
    };
    return { el: box, load, onChange: () => load().catch(() => {}) };
  }

  // --- sources ---
  async function templateView() {
    const text = await api('GET', `/deployments/${id}/template`, undefined, { text: true, signal: ctx.signal });
    return { el: h('div', null, h('p', { class: 'muted' }, 'The TOSCA template this deployment runs (its own copy: catalog changes never affect it).'), numbered(text)) };
  }
  async function terraform() {
    const text = await api('GET', `/deployments/${id}/terraform`, undefined, { text: true, signal: ctx.signal });
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { /* show as is */ }
    return { el: h('div', null, h('p', { class: 'muted' }, 'The generated Terraform root module (main.tf.json). Input values are not shown: they may hold secrets.'), pretty ? pre(pretty) : emptyState('No Terraform generated yet.')) };
  }
  async function stateView() {
    const st = await api('GET', `/deployments/${id}/state`, undefined, { signal: ctx.signal });
    const empty = !st.values;
    return { el: h('div', null, h('p', { class: 'muted' }, 'The newest Terraform state, as terraform show -json prints it, with sensitive values redacted.'),
      empty ? emptyState('No state yet.', 'A state is saved after every run.') : pre(JSON.stringify(st, null, 2))) };
  }

  // --- update with a plan preview ---
  async function update() {
    if (deleted(d)) return { el: emptyState('A deleted deployment cannot be updated.') };
    let tmpl = null;
    if (d.template_id) {
      try { tmpl = await api('GET', `/templates/${d.template_id}`, undefined, { signal: ctx.signal }); } catch { tmpl = null; }
    }
    const current = d.inputs || {};
    const fields = tmpl ? inputFields(tmpl.inputs || [], current) : [];
    const raw = tmpl ? null : h('textarea', { name: 'inputs', rows: 8, class: 'mono', spellcheck: 'false', value: JSON.stringify(current, null, 2) });
    const redeploy = h('input', { type: 'checkbox', name: 'redeploy' });
    const planBox = h('div', { class: 'plan-box', 'aria-live': 'polite' });
    const previewBtn = h('button', { type: 'button', class: 'btn' }, 'Preview plan');
    const apply = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply update');
    const blocked = h('p', { class: 'notice', hidden: true });
    const form = h('form', { class: 'form update-form', novalidate: true }, formErrors(),
      blocked,
      h('fieldset', null, h('legend', null, 'Inputs'),
        tmpl ? (fields.length ? fields : h('p', { class: 'muted' }, 'The template has no inputs.'))
          : [h('p', { class: 'muted' }, 'The catalog template is gone: edit the inputs as JSON.'), field({ label: 'Inputs (JSON)', input: raw })]),
      h('div', { class: 'field field-check' }, h('label', null, redeploy, ' Redeploy: replace every resource instead of updating in place')),
      planBox, h('div', { class: 'actions' }, previewBtn, apply));
    const changes = () => {
      if (!tmpl) {
        try { return { inputs: JSON.parse(raw.value || '{}') }; } catch {
          showFieldErrors(form, new ApiError(422, { error: { message: 'Inputs must be a JSON object.', details: [{ field: 'inputs', message: 'Enter a JSON object.' }] } }));
          return null;
        }
      }
      const { values, errors } = readFields(fields);
      if (errors.length) {
        showFieldErrors(form, new ApiError(422, { error: { message: 'Check the highlighted fields.', details: errors } }));
        return null;
      }
      const out = {};
      for (const f of fields) {
        const k = f.input.name;
        const before = Object.prototype.hasOwnProperty.call(current, k) ? current[k] : f.input.default;
        if (!(k in values)) { if (k in current) out[k] = null; continue; } // back to the default
        if (JSON.stringify(values[k]) !== JSON.stringify(before)) out[k] = values[k];
      }
      return { inputs: out };
    };
    const gate = () => {
      const ok = UPDATABLE.includes(d.status);
      blocked.hidden = ok;
      blocked.textContent = ok ? '' : `An update can start from CREATE COMPLETE, UPDATE COMPLETE or UPDATE FAILED; this deployment is ${d.status.replaceAll('_', ' ')}.`;
      apply.disabled = !ok;
      previewBtn.disabled = deleted(d);
    };
    gate();
    previewBtn.addEventListener('click', async () => {
      const b = changes();
      if (!b) return;
      showFieldErrors(form, null);
      setBusy(previewBtn, true, 'Planning…');
      clear(planBox, spinner('Running terraform plan…'));
      try {
        const plan = await api('POST', `/deployments/${id}/plan`, b);
        clear(planBox, h('h2', { class: 'h3' }, 'Plan preview'), planView(plan));
      } catch (err) { clear(planBox); showFieldErrors(form, err); } finally { setBusy(previewBtn, false); gate(); }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const b = changes();
      if (!b) return;
      if (redeploy.checked && !(await confirmDialog({ title: 'Replace every resource?', danger: true, confirm: 'Redeploy', body: 'Every resource is destroyed and created again: data on them is lost.' }))) return;
      showFieldErrors(form, null);
      setBusy(apply, true, 'Submitting…');
      try {
        d = await api('PUT', `/deployments/${id}`, { ...b, redeploy: redeploy.checked });
        toast('Update started.');
        renderHead();
        pollSoon();
        select('overview');
      } catch (err) { showFieldErrors(form, err); } finally { setBusy(apply, false); gate(); }
    });
    form.addEventListener('input', () => { if (planBox.firstChild) clear(planBox, h('p', { class: 'muted small' }, 'The inputs changed: preview the plan again.')); });
    return { el: h('div', null, h('p', { class: 'muted' }, 'Change inputs and apply them on the same target. Preview the plan first to see what Terraform would do.'), form), onChange: gate };
  }

  // --- owners (admins) ---
  async function owners() {
    const list = h('div');
    const username = h('input', { name: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: 'username' });
    const add = h('button', { type: 'submit', class: 'btn' }, 'Add owner');
    const form = h('form', { class: 'form form-row', novalidate: true }, formErrors(), field({ label: 'Add an owner by username', input: username }), h('div', { class: 'actions' }, add));
    const load = async () => {
      const res = await api('GET', `/deployments/${id}/owners`, undefined, { signal: ctx.signal });
      clear(list, h('ul', { class: 'list owners' }, res.items.map((o) => h('li', { 'data-owner': o.username },
        h('span', null, h('strong', null, o.username), o.name ? ` (${o.name})` : ''),
        h('button', { type: 'button', class: 'btn btn-small', disabled: res.items.length === 1, title: res.items.length === 1 ? 'A deployment keeps at least one owner' : null,
          onclick: async () => {
            try { await api('DELETE', `/deployments/${id}/owners/${o.id}`); toast(`${o.username} removed.`); load(); } catch (err) { toast(err.message, 'error'); }
          } }, 'Remove')))));
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = username.value.trim().toLowerCase();
      if (!name) { showFieldErrors(form, new ApiError(422, { error: { message: 'Enter a username.', details: [{ field: 'username', message: 'Enter a username.' }] } })); return; }
      setBusy(add, true, 'Adding…');
      try {
        // The API takes a username (or an id) and says when nobody has it.
        await api('POST', `/deployments/${id}/owners`, { user: name });
        username.value = '';
        showFieldErrors(form, null);
        toast(`${name} is now an owner.`);
        await load();
      } catch (err) {
        showFieldErrors(form, err, (f) => (f === 'user' ? 'username' : f));
      } finally { setBusy(add, false); }
    });
    return { el: h('div', null, h('p', { class: 'muted' }, 'Owners see and act on this deployment. There is always at least one.'), list, form), load };
  }

  renderHead();
  const page = h('div', { class: 'deployment' }, head, live, tabList, panel);
  select(tab);
  timer = setTimeout(poll, busy(d) ? 1000 : 6000);
  return page;
}
