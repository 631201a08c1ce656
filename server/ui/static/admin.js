// Admin pages: users, templates (with a YAML editor that shows errors at their
// line), targets (credentials are write-only) and log purge.
import { h, clear, field, formErrors, showFieldErrors, setBusy, emptyState, confirmDialog, toast, timeEl, cell } from './dom.js';
import { api, ApiError } from './api.js';
import { yamlEditor } from './editor.js';

function adminNav(here) {
  const link = (href, text) => h('a', { href, class: 'subnav-link', 'aria-current': here === href ? 'page' : null }, text);
  return h('nav', { class: 'subnav', 'aria-label': 'Admin' },
    link('/admin/users', 'Users'), link('/admin/templates', 'Templates'), link('/admin/targets', 'Targets'), link('/admin/logs', 'Logs'));
}

function adminPage(here, title, ...children) {
  return h('div', { class: 'admin' }, adminNav(here), h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), children.shift()), ...children);
}

// --- users ---
export async function usersPage(ctx) {
  ctx.setTitle('Users');
  const box = h('div');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  let page = Number(ctx.query.get('page')) || 1;
  const load = async () => {
    const res = await api('GET', `/users?page=${page}&size=25`, undefined, { signal: ctx.signal });
    ctx.replaceQuery({ page: page > 1 ? page : '' });
    clear(box, res.items.length === 0 ? emptyState('No users.') : h('div', { class: 'table-wrap' }, h('table', { class: 'table users' },
      h('thead', null, h('tr', null, ['User', 'E-mail', 'Role', 'Registered', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, res.items.map((u) => h('tr', { 'data-user': u.username },
        cell('User', h('strong', null, u.username), u.name ? h('div', { class: 'muted small' }, u.name) : null),
        cell('E-mail', u.email || '—'),
        cell('Role', u.is_admin ? h('span', { class: 'chip' }, 'admin') : 'user'),
        cell('Registered', timeEl(u.created_at)),
        cell('Actions', u.id === ctx.me.id ? h('span', { class: 'muted small' }, 'you') : h('button', {
          type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Delete user ${u.username}`, onclick: () => removeUser(u),
        }, 'Delete'))))))));
    clear(pager,
      h('button', { type: 'button', class: 'btn btn-small', disabled: page <= 1, onclick: () => { page--; load(); } }, '← Previous'),
      h('span', null, `Page ${res.page.number} of ${Math.max(res.page.total_pages, 1)} · ${res.page.total_items} users`),
      h('button', { type: 'button', class: 'btn btn-small', disabled: page >= res.page.total_pages, onclick: () => { page++; load(); } }, 'Next →'));
  };
  const removeUser = async (u) => {
    if (!(await confirmDialog({ title: `Delete ${u.username}?`, body: 'Their SSH keys and API tokens go too. Deployments they own with others stay with the others.', confirm: 'Delete', danger: true }))) return;
    try {
      await api('DELETE', `/users/${u.id}`);
      toast(`${u.username} deleted.`);
    } catch (err) {
      if (err.status !== 409 || /last admin/.test(err.message)) { toast(err.message, 'error'); return; }
      if (!(await confirmDialog({ title: `${u.username} is the only owner of live deployments`, body: `${err.message} Delete anyway? Those deployments are left without an owner; admins still see them.`, confirm: 'Delete anyway', danger: true }))) return;
      try { await api('DELETE', `/users/${u.id}?force=true`); toast(`${u.username} deleted.`); } catch (err2) { toast(err2.message, 'error'); return; }
    }
    load();
  };
  await load();
  return adminPage('/admin/users', 'Users', null, box, pager);
}

// --- templates ---
export async function templatesPage(ctx) {
  ctx.setTitle('Templates');
  const res = await api('GET', '/templates?size=1000', undefined, { signal: ctx.signal });
  const list = res.items.length === 0
    ? emptyState('The catalog is empty.', 'Add a TOSCA template: users see it in their catalog at once.')
    : h('div', { class: 'table-wrap' }, h('table', { class: 'table templates' },
      h('thead', null, h('tr', null, ['Template', 'Version', 'Inputs', 'Updated', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, res.items.map((t) => h('tr', { 'data-template': t.name },
        cell('Template', h('a', { href: `/admin/templates/${t.id}` }, t.name), h('div', { class: 'muted small clamp' }, t.description)),
        cell('Version', t.version),
        cell('Inputs', String((t.inputs || []).length)),
        cell('Updated', timeEl(t.updated_at)),
        cell({ label: 'Actions', class: 'cell-actions' },
          h('a', { href: `/admin/templates/${t.id}`, class: 'btn btn-small' }, 'Edit'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Delete template ${t.name}`, onclick: async () => {
            if (!(await confirmDialog({ title: `Delete ${t.name} ${t.version}?`, body: 'It leaves the catalog. Deployments made from it keep their own copy.', confirm: 'Delete', danger: true }))) return;
            try { await api('DELETE', `/templates/${t.id}`); toast('Template deleted.'); ctx.refresh(); } catch (err) { toast(err.message, 'error'); }
          } }, 'Delete')))))));
  return adminPage('/admin/templates', 'Templates', h('a', { href: '/admin/templates/new', class: 'btn btn-primary' }, 'Add a template'), list);
}

const STARTER = `tosca_definitions_version: tosca_simple_yaml_1_3

description: A short sentence users see in the catalog.

topology_template:
  inputs:
    num_cpus:
      type: integer
      description: Number of virtual CPUs
      default: 1
      constraints:
        - in_range: [ 1, 8 ]

  node_templates:
    vm:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            num_cpus: { get_input: num_cpus }
            mem_size: 2 GB
`;

export async function templateEditorPage(ctx) {
  const isNew = !ctx.params.id;
  let t = null;
  let content = STARTER;
  if (!isNew) {
    [t, content] = await Promise.all([
      api('GET', `/templates/${encodeURIComponent(ctx.params.id)}`, undefined, { signal: ctx.signal }),
      api('GET', `/templates/${encodeURIComponent(ctx.params.id)}/content`, undefined, { text: true, signal: ctx.signal }),
    ]);
  }
  ctx.setTitle(isNew ? 'Add a template' : `Edit ${t.name}`);
  const name = h('input', { name: 'name', required: true, maxlength: 100, value: t ? t.name : '', spellcheck: 'false' });
  const version = h('input', { name: 'version', required: true, maxlength: 100, value: t ? t.version : '1.0', spellcheck: 'false' });
  const description = h('textarea', { name: 'description', rows: 2, maxlength: 5000, value: t ? t.description : '' });
  const editor = yamlEditor({ value: content });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, isNew ? 'Add to the catalog' : 'Save');
  const form = h('form', { class: 'form template-form', novalidate: true }, formErrors(),
    h('div', { class: 'row' }, field({ label: 'Name', input: name, required: true }), field({ label: 'Version', input: version, required: true })),
    field({ label: 'Description', input: description, help: isNew ? 'Optional: the template’s own description is used otherwise.' : null }),
    editor.el,
    h('div', { class: 'actions' }, h('a', { href: '/admin/templates', class: 'btn' }, 'Cancel'), save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const details = [];
    if (!name.value.trim()) details.push({ field: 'name', message: 'Name the template.' });
    if (!version.value.trim()) details.push({ field: 'version', message: 'Give it a version.' });
    if (!editor.value.trim()) details.push({ field: 'content', message: 'The template is empty.' });
    if (details.length) { report(new ApiError(422, { error: { message: 'Check the highlighted fields.', details } })); return; }
    setBusy(save, true, 'Validating…');
    try {
      const body = { name: name.value.trim(), version: version.value.trim(), content: editor.value };
      if (description.value.trim() || !isNew) body.description = description.value.trim();
      if (isNew) {
        const created = await api('POST', '/templates', body);
        toast(`${created.name} ${created.version} added to the catalog.`);
      } else {
        if (content === editor.value) delete body.content; // unchanged: no need to validate again
        await api('PATCH', `/templates/${t.id}`, body);
        toast('Template saved.');
      }
      ctx.navigate('/admin/templates');
    } catch (err) { report(err); } finally { setBusy(save, false); }
  });
  // Errors in the YAML go to the editor, at their line; the rest next to fields.
  const report = (err) => {
    const all = err.details || [];
    const inContent = all.filter((d) => d.field === 'content' || d.line);
    const rest = all.filter((d) => !inContent.includes(d));
    showFieldErrors(form, { message: err.message, details: rest.length || !inContent.length ? rest : [{ message: err.message }] });
    editor.setErrors(inContent);
  };
  return adminPage('/admin/templates', isNew ? 'Add a template' : `Edit ${t.name} ${t.version}`, null,
    h('p', { class: 'muted' }, 'The service validates the template when you save: errors are marked at their line.'), form);
}

// --- targets ---
export async function targetsPage(ctx) {
  ctx.setTitle('Targets');
  const res = await api('GET', '/targets', undefined, { signal: ctx.signal });
  const list = res.items.length === 0 ? emptyState('No targets.', 'Add one: deployments need a target to run on.')
    : h('div', { class: 'table-wrap' }, h('table', { class: 'table targets' },
      h('thead', null, h('tr', null, ['Target', 'Kind', 'Credentials', 'Updated', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, res.items.map((t) => h('tr', { 'data-target': t.name },
        cell('Target', h('a', { href: `/admin/targets/${t.name}` }, t.name), t.description ? h('div', { class: 'muted small' }, t.description) : null),
        cell('Kind', t.kind, t.simulated ? h('span', { class: 'chip' }, 'simulated') : null),
        cell('Credentials', t.has_credentials ? 'set' : 'none'),
        cell('Updated', timeEl(t.updated_at)),
        cell({ label: 'Actions', class: 'cell-actions' },
          h('a', { href: `/admin/targets/${t.name}`, class: 'btn btn-small' }, 'Edit'),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Delete target ${t.name}`, onclick: async () => {
            if (!(await confirmDialog({ title: `Delete target ${t.name}?`, body: 'Only a target no deployment uses can be deleted.', confirm: 'Delete', danger: true }))) return;
            try { await api('DELETE', `/targets/${t.name}`); toast('Target deleted.'); ctx.refresh(); } catch (err) { toast(err.message, 'error'); }
          } }, 'Delete')))))));
  return adminPage('/admin/targets', 'Targets', h('a', { href: '/admin/targets/new', class: 'btn btn-primary' }, 'Add a target'), list);
}

const CREDENTIAL_NAMES = ['OS_AUTH_URL', 'OS_APPLICATION_CREDENTIAL_ID', 'OS_APPLICATION_CREDENTIAL_SECRET', 'OS_USERNAME', 'OS_PASSWORD',
  'OS_PROJECT_NAME', 'OS_PROJECT_ID', 'OS_USER_DOMAIN_NAME', 'OS_PROJECT_DOMAIN_NAME', 'OS_REGION_NAME', 'OS_INTERFACE', 'OS_IDENTITY_API_VERSION', 'OS_CLOUD', 'OS_TOKEN', 'OS_INSECURE'];

export async function targetEditorPage(ctx) {
  const isNew = !ctx.params.name;
  const t = isNew ? null : await api('GET', `/targets/${encodeURIComponent(ctx.params.name)}`, undefined, { signal: ctx.signal });
  ctx.setTitle(isNew ? 'Add a target' : `Target ${t.name}`);
  const name = h('input', { name: 'name', required: true, value: t ? t.name : '', disabled: !isNew, pattern: '[a-z0-9][a-z0-9_\\-]{0,62}', spellcheck: 'false', autocapitalize: 'none' });
  const kind = h('select', { name: 'kind', disabled: !isNew }, ['openstack', 'local'].map((k) => h('option', { value: k, selected: t ? t.kind === k : k === 'openstack' }, k)));
  const description = h('input', { name: 'description', value: t ? t.description : '', maxlength: 1000 });
  const config = h('textarea', { name: 'config', rows: 10, class: 'mono', spellcheck: 'false',
    value: JSON.stringify(t && t.config ? t.config : { external_network: 'public', flavors: [], images: [] }, null, 2) });
  const creds = h('div', { class: 'creds' });
  const addRow = (key = '') => {
    const k = h('select', { name: 'cred-key', 'aria-label': 'Variable' }, CREDENTIAL_NAMES.map((n) => h('option', { value: n, selected: n === key }, n)));
    // Write-only: the current values are never shown; typing one replaces it.
    const v = h('input', { name: 'cred-value', type: 'password', autocomplete: 'off', 'aria-label': 'Value', placeholder: t && t.has_credentials ? 'unchanged unless typed' : 'value' });
    const row = h('div', { class: 'cred-row' }, k, v, h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Remove this variable', onclick: () => row.remove() }, 'Remove'));
    creds.append(row);
  };
  if (isNew) { addRow('OS_AUTH_URL'); addRow('OS_APPLICATION_CREDENTIAL_ID'); addRow('OS_APPLICATION_CREDENTIAL_SECRET'); }
  const replaceAll = h('input', { type: 'checkbox', name: 'replace_credentials' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, isNew ? 'Add target' : 'Save');
  const form = h('form', { class: 'form', novalidate: true }, formErrors(),
    h('div', { class: 'row' }, field({ label: 'Name', input: name, required: true, help: isNew ? 'Lower-case letters, digits, - and _. It cannot change later.' : null }), field({ label: 'Kind', input: kind })),
    field({ label: 'Description', input: description }),
    field({ label: 'Configuration (JSON)', input: config, help: 'external_network, default_network_id, flavors and images (see the README).' }),
    h('fieldset', { class: 'field', 'data-field': 'credentials' }, h('legend', null, 'Credentials'),
      h('p', { class: 'muted small' }, t && t.has_credentials ? 'Credentials are set. They are write-only: they are never shown again. Enter variables below to replace them.' : 'OS_* variables for the OpenStack provider. Write-only: stored sealed, never shown again.'),
      creds, h('button', { type: 'button', class: 'btn btn-small', onclick: () => addRow() }, 'Add a variable'),
      !isNew ? h('label', { class: 'check' }, replaceAll, ' Send the variables above (replaces the stored credentials)') : null),
    h('div', { class: 'actions' }, h('a', { href: '/admin/targets', class: 'btn' }, 'Cancel'), save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let cfg;
    try { cfg = JSON.parse(config.value || '{}'); if (typeof cfg !== 'object' || Array.isArray(cfg) || cfg === null) throw new Error(); } catch {
      showFieldErrors(form, new ApiError(422, { error: { message: 'The configuration must be a JSON object.', details: [{ field: 'config', message: 'Enter a JSON object.' }] } }));
      return;
    }
    const credentials = {};
    for (const row of creds.querySelectorAll('.cred-row')) {
      const [k, v] = [row.querySelector('select').value, row.querySelector('input').value];
      if (v) credentials[k] = v;
    }
    const body = { description: description.value.trim(), config: cfg };
    if (isNew || replaceAll.checked) body.credentials = credentials;
    if (isNew) { body.name = name.value.trim(); body.kind = kind.value; }
    setBusy(save, true, 'Saving…');
    try {
      await api(isNew ? 'POST' : 'PATCH', isNew ? '/targets' : `/targets/${t.name}`, body);
      toast('Target saved.');
      ctx.navigate('/admin/targets');
    } catch (err) {
      showFieldErrors(form, err, (f) => (f.startsWith('credentials') ? 'credentials' : f.startsWith('config') ? 'config' : f));
    } finally { setBusy(save, false); }
  });
  return adminPage('/admin/targets', isNew ? 'Add a target' : `Target ${t.name}`, null, form);
}

// --- logs ---
export async function logsAdminPage(ctx) {
  ctx.setTitle('Logs');
  const days = h('input', { name: 'older_than', type: 'number', min: 1, step: 1, value: 30, inputmode: 'numeric' });
  const result = h('div', { 'aria-live': 'polite' });
  const purge = h('button', { type: 'submit', class: 'btn btn-danger' }, 'Purge');
  const form = h('form', { class: 'form form-row', novalidate: true }, formErrors(),
    field({ label: 'Delete log lines older than (days)', input: days, help: 'The retention job does the same every day with the configured period.' }),
    h('div', { class: 'actions' }, purge));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = Number(days.value);
    if (!Number.isInteger(n) || n < 1) {
      showFieldErrors(form, new ApiError(422, { error: { message: 'Enter a whole number of days, 1 or more.', details: [{ field: 'older_than', message: 'Enter a whole number of days, 1 or more.' }] } }));
      return;
    }
    if (!(await confirmDialog({ title: `Delete every log line older than ${n} days?`, body: 'Of every deployment. This cannot be undone.', confirm: 'Purge', danger: true }))) return;
    setBusy(purge, true, 'Purging…');
    try {
      // The purge is a background job: follow it until it ends.
      let job = await api('DELETE', `/logs?older_than=${n}d`);
      showFieldErrors(form, null);
      while (job.status === 'queued' || job.status === 'running') {
        const p = job.progress || {};
        clear(result, h('p', { class: 'notice', role: 'status' }, job.status === 'queued' ? 'Purge queued…' : `Purging: ${p.deleted || 0} of ${p.planned || 0} lines deleted…`));
        await new Promise((r) => setTimeout(r, 500));
        job = await api('GET', `/jobs/${job.id}`, undefined, { signal: ctx.signal });
      }
      const deleted = (job.progress && job.progress.deleted) || 0;
      if (job.status === 'failed') {
        clear(result, h('p', { class: 'notice notice-bad', role: 'alert' }, `The purge failed after deleting ${deleted} lines: ${job.error}`));
      } else {
        clear(result, h('p', { class: 'notice notice-good', role: 'status' }, `${deleted} log line${deleted === 1 ? '' : 's'} older than `, timeEl(job.params.before), ' deleted.'));
      }
    } catch (err) { if (err.name !== 'AbortError') showFieldErrors(form, err); } finally { setBusy(purge, false); }
  });
  return adminPage('/admin/logs', 'Logs', null, h('p', { class: 'muted' }, 'Deployment logs are kept after deletion, until they are older than the retention period.'), form, result);
}

