// The profile: name, e-mail, picture, SSH keys, API tokens (shown once) and
// the password.
import { h, clear, field, formErrors, showFieldErrors, setBusy, emptyState, copyButton, confirmDialog, toast, timeEl } from './dom.js';
import { api, whoami, ApiError } from './api.js';

export async function profilePage(ctx) {
  ctx.setTitle('Profile');
  let me = await whoami(true);
  const sections = [detailsSection(), keysSection(), tokensSection(), passwordSection()];

  function detailsSection() {
    const name = h('input', { name: 'name', value: me.name, autocomplete: 'name', maxlength: 200 });
    const email = h('input', { name: 'email', type: 'email', value: me.email, autocomplete: 'email' });
    const pictureURL = h('input', { name: 'picture_url', type: 'url', value: me.picture_url && !me.picture_url.startsWith('/api/') ? me.picture_url : '', placeholder: 'https://…' });
    const file = h('input', { name: 'picture', type: 'file', accept: 'image/png,image/jpeg' });
    const preview = h('div', { class: 'picture' });
    const showPicture = () => clear(preview, me.picture_url
      ? h('img', { src: `${me.picture_url}${me.picture_url.startsWith('/api/') ? `?v=${Date.now()}` : ''}`, alt: 'Your picture', width: 72, height: 72, class: 'avatar-large' })
      : h('span', { class: 'avatar-large avatar-letter', 'aria-hidden': 'true' }, me.username[0].toUpperCase()));
    showPicture();
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
    const form = h('form', { class: 'form', novalidate: true }, formErrors(),
      h('p', null, 'Signed in as ', h('strong', null, me.username), me.is_admin ? h('span', { class: 'chip' }, 'admin') : null),
      preview,
      field({ label: 'Full name', input: name }),
      field({ label: 'E-mail', input: email }),
      field({ label: 'Picture URL', input: pictureURL, help: 'A link to an image, or upload one below.' }),
      field({ label: 'Upload a picture', input: file, help: 'PNG or JPEG, at most 1 MiB.' }),
      h('div', { class: 'actions' }, save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (email.value && !email.checkValidity()) {
        showFieldErrors(form, new ApiError(422, { error: { message: email.validationMessage, details: [{ field: 'email', message: email.validationMessage }] } }));
        return;
      }
      const f = file.files[0];
      if (f && f.size > 1 << 20) {
        showFieldErrors(form, new ApiError(413, { error: { message: 'The picture is larger than 1 MiB.', details: [{ field: 'picture', message: 'The picture is larger than 1 MiB.' }] } }));
        return;
      }
      setBusy(save, true, 'Saving…');
      try {
        let body;
        if (f) {
          body = new FormData();
          body.append('name', name.value.trim());
          body.append('email', email.value.trim());
          body.append('picture', f);
        } else {
          body = { name: name.value.trim(), email: email.value.trim() };
          if (pictureURL.value.trim() || !me.picture_url.startsWith('/api/')) body.picture_url = pictureURL.value.trim();
        }
        me = await api('PATCH', '/users/me', body);
        await whoami(true);
        file.value = '';
        showPicture();
        showFieldErrors(form, null);
        toast('Profile saved.');
      } catch (err) { showFieldErrors(form, err); } finally { setBusy(save, false); }
    });
    return section('Your details', form);
  }

  function keysSection() {
    const list = h('div');
    const key = h('textarea', { name: 'public_key', rows: 3, class: 'mono', spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… you@laptop' });
    const keyName = h('input', { name: 'name', maxlength: 100, placeholder: 'laptop' });
    const add = h('button', { type: 'submit', class: 'btn' }, 'Add key');
    const form = h('form', { class: 'form', novalidate: true }, formErrors(),
      field({ label: 'Public key', input: key, help: 'One line of your ~/.ssh/id_ed25519.pub (or an RSA key of 2048 bits or more). Never paste a private key.' }),
      field({ label: 'Name', input: keyName, help: 'Optional; the key comment otherwise.' }),
      h('div', { class: 'actions' }, add));
    const load = async () => {
      const res = await api('GET', '/users/me/ssh-keys');
      clear(list, res.items.length === 0
        ? emptyState('No SSH keys yet.', 'Add your public key: virtual machines you deploy accept it for ssh.')
        : h('ul', { class: 'list keys' }, res.items.map((k) => h('li', { 'data-key': k.fingerprint },
          h('div', null, h('strong', null, k.name || 'key'), h('div', { class: 'mono small' }, k.fingerprint), h('div', { class: 'muted small' }, 'Added ', timeEl(k.created_at))),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Remove key ${k.name}`, onclick: async () => {
            if (!(await confirmDialog({ title: 'Remove this key?', body: `${k.name} (${k.fingerprint})`, confirm: 'Remove', danger: true }))) return;
            try { await api('DELETE', `/users/me/ssh-keys/${k.id}`); toast('Key removed.'); load(); } catch (err) { toast(err.message, 'error'); }
          } }, 'Remove')))));
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (/PRIVATE KEY/.test(key.value)) {
        showFieldErrors(form, new ApiError(422, { error: { message: 'That is a private key.', details: [{ field: 'public_key', message: 'This is a private key: paste the public one (.pub) and keep this one secret.' }] } }));
        key.value = '';
        return;
      }
      setBusy(add, true, 'Adding…');
      try {
        const body = { public_key: key.value.trim() };
        if (keyName.value.trim()) body.name = keyName.value.trim();
        await api('POST', '/users/me/ssh-keys', body);
        key.value = '';
        keyName.value = '';
        showFieldErrors(form, null);
        toast('Key added.');
        await load();
      } catch (err) { showFieldErrors(form, err); } finally { setBusy(add, false); }
    });
    load().catch((err) => clear(list, h('p', { class: 'notice notice-bad' }, err.message)));
    return section('SSH keys', list, form);
  }

  function tokensSection() {
    const list = h('div');
    const shown = h('div', { 'aria-live': 'polite' });
    const name = h('input', { name: 'name', required: true, maxlength: 100, placeholder: 'ci-pipeline' });
    const expires = h('input', { name: 'expires_at', type: 'date' });
    const create = h('button', { type: 'submit', class: 'btn' }, 'Create token');
    const form = h('form', { class: 'form', novalidate: true }, formErrors(),
      field({ label: 'Token name', input: name, required: true }),
      field({ label: 'Expires on', input: expires, help: 'Optional. Without a date the token lasts until you revoke it.' }),
      h('div', { class: 'actions' }, create));
    const load = async () => {
      const res = await api('GET', '/users/me/tokens');
      clear(list, res.items.length === 0
        ? emptyState('No API tokens.', 'Create one for scripts and the CLI (ORCHESTRATOR_TOKEN). It is shown once.')
        : h('ul', { class: 'list tokens' }, res.items.map((t) => h('li', null,
          h('div', null, h('strong', null, t.name), h('div', { class: 'muted small' }, 'Created ', timeEl(t.created_at),
            ' · ', t.expires_at ? ['expires ', timeEl(t.expires_at)] : 'never expires', ' · ', t.last_used_at ? ['last used ', timeEl(t.last_used_at)] : 'never used')),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'aria-label': `Revoke token ${t.name}`, onclick: async () => {
            if (!(await confirmDialog({ title: 'Revoke this token?', body: `Scripts using “${t.name}” stop working.`, confirm: 'Revoke', danger: true }))) return;
            try { await api('DELETE', `/users/me/tokens/${t.id}`); toast('Token revoked.'); load(); } catch (err) { toast(err.message, 'error'); }
          } }, 'Revoke')))));
    };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!name.value.trim()) {
        showFieldErrors(form, new ApiError(422, { error: { message: 'Name the token.', details: [{ field: 'name', message: 'Name the token so you recognise it later.' }] } }));
        return;
      }
      setBusy(create, true, 'Creating…');
      try {
        const body = { name: name.value.trim() };
        if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
        const t = await api('POST', '/users/me/tokens', body);
        name.value = '';
        expires.value = '';
        showFieldErrors(form, null);
        clear(shown, h('div', { class: 'notice notice-good token-once' },
          h('p', null, h('strong', null, `Token “${t.name}” created. Copy it now: it is shown only once.`)),
          h('p', { class: 'token-value' }, h('code', { class: 'mono' }, t.token), ' ', copyButton(t.token, 'Copy the token')),
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => clear(shown) }, 'I copied it')));
        await load();
      } catch (err) { showFieldErrors(form, err); } finally { setBusy(create, false); }
    });
    load().catch((err) => clear(list, h('p', { class: 'notice notice-bad' }, err.message)));
    return section('API tokens', shown, list, form);
  }

  function passwordSection() {
    const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
    const next = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 72 });
    const confirm = h('input', { name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
    const save = h('button', { type: 'submit', class: 'btn' }, 'Change password');
    const form = h('form', { class: 'form', novalidate: true }, formErrors(),
      field({ label: 'Current password', input: current, required: true }),
      field({ label: 'New password', input: next, required: true, help: 'At least 8 characters.' }),
      field({ label: 'Repeat the new password', input: confirm, required: true }),
      h('div', { class: 'actions' }, save));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const details = [];
      if (!current.value) details.push({ field: 'current_password', message: 'Enter your current password.' });
      if (next.value.length < 8) details.push({ field: 'password', message: 'At least 8 characters.' });
      if (confirm.value !== next.value) details.push({ field: 'confirm', message: 'The passwords differ.' });
      if (details.length) { showFieldErrors(form, new ApiError(422, { error: { message: 'Check the highlighted fields.', details } })); return; }
      setBusy(save, true, 'Saving…');
      try {
        await api('PATCH', '/users/me', { current_password: current.value, password: next.value }, { noRedirect: true });
        for (const el of [current, next, confirm]) el.value = '';
        showFieldErrors(form, null);
        toast('Password changed.');
      } catch (err) { showFieldErrors(form, err); } finally { setBusy(save, false); }
    });
    return section('Password', h('p', { class: 'muted' }, 'For local accounts. Accounts of an identity provider change their password there.'), form);
  }

  return h('div', { class: 'profile' }, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Profile')), h('div', { class: 'sections' }, sections));
}

function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { class: 'card section', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}
