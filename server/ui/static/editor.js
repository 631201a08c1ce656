// A YAML editor: a plain textarea (so every browser feature, undo and screen
// readers work) with a gutter of line numbers that marks the lines the server
// reported errors on.
import { h, clear } from './dom.js';

export function yamlEditor({ name = 'content', value = '', label = 'TOSCA template (YAML)' }) {
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const area = h('textarea', { name, class: 'editor-area mono', wrap: 'off', spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off', rows: 24, value });
  const problems = h('ul', { class: 'editor-problems', 'aria-label': 'Template errors' });
  let marks = new Map(); // line -> messages

  const lines = () => area.value.split('\n').length;
  const drawGutter = () => {
    const n = lines();
    if (gutter.childElementCount !== n || marks.size || gutter.querySelector('.has-error')) {
      clear(gutter, Array.from({ length: n }, (_, i) => {
        const msgs = marks.get(i + 1);
        return h('div', { class: ['gl', msgs ? 'has-error' : ''], title: msgs ? msgs.join('\n') : null, 'data-line': i + 1 }, String(i + 1));
      }));
    }
    gutter.scrollTop = area.scrollTop;
  };
  area.addEventListener('input', drawGutter);
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });

  // goTo selects a line and scrolls it into view.
  const goTo = (line, column = 1) => {
    const all = area.value.split('\n');
    const l = Math.min(Math.max(line, 1), all.length);
    let start = 0;
    for (let i = 0; i < l - 1; i++) start += all[i].length + 1;
    area.focus();
    area.setSelectionRange(start + Math.max(column - 1, 0), start + all[l - 1].length);
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (l - 5) * lh);
  };

  // setErrors takes API error details ({line, column, message}); an empty list clears them.
  const setErrors = (details) => {
    marks = new Map();
    const withLines = (details || []).filter((d) => d.line);
    for (const d of withLines) marks.set(d.line, [...(marks.get(d.line) || []), d.message]);
    clear(problems, (details || []).map((d) => h('li', { class: 'problem', 'data-line': d.line || '' },
      d.line ? h('button', { type: 'button', class: 'linklike', onclick: () => goTo(d.line, d.column) }, `Line ${d.line}${d.column ? `, column ${d.column}` : ''}`) : null,
      d.line ? ': ' : '', d.message)));
    problems.hidden = !details || details.length === 0;
    area.setAttribute('aria-invalid', marks.size ? 'true' : 'false');
    drawGutter();
    if (withLines.length) goTo(withLines[0].line, withLines[0].column);
  };

  const id = `ed-${Math.random().toString(36).slice(2, 8)}`;
  area.id = id;
  area.setAttribute('aria-describedby', `${id}-problems`);
  problems.id = `${id}-problems`;
  problems.hidden = true;
  const el = h('div', { class: 'field editor', 'data-field': name },
    h('label', { for: id }, label),
    h('div', { class: 'editor-box' }, gutter, area),
    problems);
  el.setError = (msg) => setErrors(msg ? [{ message: msg }] : []);
  requestAnimationFrame(drawGutter);
  drawGutter();
  return { el, area, setErrors, goTo, get value() { return area.value; }, set value(v) { area.value = v; drawGutter(); } };
}
