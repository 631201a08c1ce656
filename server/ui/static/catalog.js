// The catalog of templates, and the deploy form generated from a template's inputs.
import { h, clear, field, formErrors, showFieldErrors, setBusy, emptyState, numbered, spinner, toast } from './dom.js';
import { api, query, ApiError } from './api.js';
import { inputFields, readFields, parseLabels } from './inputs.js';

function templateTitle(t) {
  const m = t.metadata || {};
  return m.display_name || m.template_name || t.name;
}

function icon(t) {
  const m = t.metadata || {};
  const src = m.icon || m.icon_url || m.logo;
  if (typeof src === 'string' && /^(https?:\/\/|\/)/.test(src)) return h('img', { class: 'card-icon', src, alt: '', width: 40, height: 40 });
  return h('span', { class: 'card-icon card-icon-letter', 'aria-hidden': 'true' }, t.name.slice(0, 2).toUpperCase());
}

export async function catalogPage(ctx) {
  ctx.setTitle('Catalog');
  const q = ctx.query.get('q') || '';
  const search = h('input', { type: 'search', name: 'q', value: q, placeholder: 'Search templates', 'aria-label': 'Search templates' });
  const grid = h('div', { class: 'cards', 'aria-live': 'polite' });
  const load = async () => {
    clear(grid, spinner());
    const res = await api('GET', `/templates${query({ q: search.value.trim(), size: 100 })}`, undefined, { signal: ctx.signal });
    if (res.items.length === 0) {
      clear(grid, search.value.trim()
        ? emptyState('No template matches your search.', 'Try other words, or clear the search.')
        : emptyState('The catalog is empty.', ctx.me.is_admin ? 'Add a template to publish it to your users.' : 'An administrator publishes templates here; ask yours to add one.',
          ctx.me.is_admin ? h('a', { href: '/admin/templates/new', class: 'btn btn-primary' }, 'Add a template') : null));
      return;
    }
    clear(grid, res.items.map((t) => {
      const m = t.metadata || {};
      return h('article', { class: 'card template-card', 'data-template': t.name },
        h('div', { class: 'card-head' }, icon(t),
          h('div', null, h('h2', { class: 'card-title' }, templateTitle(t)),
            h('p', { class: 'muted small' }, `${t.name} · version ${t.version}`, m.template_author ? ` · by ${m.template_author}` : ''))),
        h('p', { class: 'card-text' }, t.description || 'No description.'),
        h('p', { class: 'muted small' }, `${(t.inputs || []).length} input${(t.inputs || []).length === 1 ? '' : 's'}`),
        h('div', { class: 'card-actions' }, h('a', { href: `/catalog/${t.id}`, class: 'btn btn-primary', 'aria-label': `Deploy ${templateTitle(t)}` }, 'Deploy')));
    }));
  };
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      ctx.replaceQuery({ q: search.value.trim() });
      load().catch((err) => clear(grid, h('p', { class: 'notice notice-bad', role: 'alert' }, err.message)));
    }, 250);
  });
  await load();
  return h('div', null,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Catalog'), search),
    h('p', { class: 'muted' }, 'Pick a template to deploy. Each one asks only for the inputs it needs.'),
    grid);
}

// planView shows a Terraform plan summary.
export function planView(plan) {
  const changes = plan.changes || [];
  return h('div', { class: 'plan', role: 'status' },
    h('p', { class: 'plan-summary' },
      h('span', { class: 'plan-add' }, `${plan.add} to add`), ', ',
      h('span', { class: 'plan-change' }, `${plan.change} to change`), ', ',
      h('span', { class: 'plan-remove' }, `${plan.remove} to remove`)),
    changes.length ? h('ul', { class: 'plan-changes' }, changes.map((c) => h('li', null, h('code', null, c.address), ' ', h('span', { class: `plan-action plan-${c.action}` }, c.action)))) : h('p', { class: 'muted' }, 'Nothing would change.'));
}

export async function deployPage(ctx) {
  const t = await api('GET', `/templates/${encodeURIComponent(ctx.params.id)}`, undefined, { signal: ctx.signal });
  const targets = await api('GET', '/targets', undefined, { signal: ctx.signal });
  ctx.setTitle(`Deploy ${templateTitle(t)}`);
  const fields = inputFields(t.inputs || []);
  const target = h('select', { name: 'target' }, targets.items.map((x) =>
    h('option', { value: x.name, selected: x.name === 'local' }, `${x.name} (${x.kind}${x.simulated ? ', simulated' : ''})`)));
  const description = h('input', { name: 'description', maxlength: 1000, placeholder: 'What is it for?' });
  const labels = h('textarea', { name: 'labels', rows: 2, class: 'mono', placeholder: 'project=genomics', spellcheck: 'false' });
  const planBox = h('div', { class: 'plan-box', 'aria-live': 'polite' });
  const previewBtn = h('button', { type: 'button', class: 'btn' }, 'Preview plan');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Deploy');
  const errors = formErrors();
  const form = h('form', { class: 'form deploy-form', novalidate: true },
    errors,
    h('fieldset', null, h('legend', null, 'Inputs'),
      fields.length ? fields : h('p', { class: 'muted' }, 'This template has no inputs.')),
    h('fieldset', null, h('legend', null, 'Where and what'),
      field({ label: 'Target', input: target, help: 'The cloud the deployment runs on.' }),
      field({ label: 'Description', input: description }),
      field({ label: 'Labels', input: labels, help: 'One key=value per line; filter your deployments by them later.' })),
    planBox,
    h('div', { class: 'actions' }, previewBtn, submit));

  // body reads the form; browser-side problems are shown and stop the request.
  const body = () => {
    const { values, errors: bad } = readFields(fields);
    const lab = parseLabels(labels.value);
    for (const m of lab.errors) bad.push({ field: 'labels', message: m });
    if (bad.length) {
      showFieldErrors(form, new ApiError(422, { error: { message: 'Check the highlighted fields.', details: bad } }));
      return null;
    }
    const b = { template_id: t.id, inputs: values, target: target.value };
    if (description.value.trim()) b.description = description.value.trim();
    if (Object.keys(lab.labels).length) b.labels = lab.labels;
    return b;
  };
  const labelField = (f) => (f.startsWith('labels.') ? 'labels' : f);

  previewBtn.addEventListener('click', async () => {
    const b = body();
    if (!b) return;
    showFieldErrors(form, null);
    setBusy(previewBtn, true, 'Planning…');
    clear(planBox, spinner('Running terraform plan…'));
    try {
      const plan = await api('POST', '/deployments/plan', b);
      clear(planBox, h('h2', { class: 'h3' }, 'Plan preview'), planView(plan));
    } catch (err) {
      clear(planBox);
      showFieldErrors(form, err, labelField);
    } finally {
      setBusy(previewBtn, false);
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const b = body();
    if (!b) return;
    showFieldErrors(form, null);
    setBusy(submit, true, 'Submitting…');
    try {
      const d = await api('POST', '/deployments', b);
      toast('Deployment submitted.');
      ctx.navigate(`/deployments/${d.id}`);
    } catch (err) {
      showFieldErrors(form, err, labelField);
    } finally {
      setBusy(submit, false);
    }
  });
  // Plans are only valid for the values they were made with.
  form.addEventListener('input', () => { if (planBox.firstChild) clear(planBox, h('p', { class: 'muted small' }, 'The inputs changed: preview the plan again.')); });

  const source = h('details', { class: 'source' }, h('summary', null, 'Show the TOSCA template'), h('div', null, spinner()));
  source.addEventListener('toggle', async () => {
    if (!source.open || source.dataset.loaded) return;
    source.dataset.loaded = '1';
    try {
      clear(source.lastChild, numbered(await api('GET', `/templates/${t.id}/content`, undefined, { text: true })));
    } catch (err) {
      clear(source.lastChild, h('p', { class: 'notice notice-bad' }, err.message));
    }
  });
  return h('div', null,
    h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' }, h('a', { href: '/catalog' }, 'Catalog'), ' / ', t.name),
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, `Deploy ${templateTitle(t)}`)),
    h('p', { class: 'muted' }, `${t.name} · version ${t.version}`),
    t.description ? h('p', null, t.description) : null,
    form, source);
}
