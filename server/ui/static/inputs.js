// Form fields generated from a template's inputs (name, type, default,
// required, constraints, description), with the checks a browser can make.
// Patterns are left to the server: TOSCA patterns use its regular-expression
// dialect, which JavaScript's does not match exactly. The server checks
// everything again and its 422 errors land next to the same fields.
import { h, field } from './dom.js';

const UNITS = {
  'scalar-unit.size': { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3, tb: 1e12, tib: 1024 ** 4 },
  'scalar-unit.time': { d: 86400, h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 },
  'scalar-unit.frequency': { hz: 1, khz: 1e3, mhz: 1e6, ghz: 1e9 },
  'scalar-unit.bitrate': { bps: 1, kbps: 1e3, kibps: 1024, mbps: 1e6, mibps: 1024 ** 2, gbps: 1e9, gibps: 1024 ** 3, tbps: 1e12, tibps: 1024 ** 4,
    Bps: 8, KBps: 8e3, KiBps: 8 * 1024, MBps: 8e6, MiBps: 8 * 1024 ** 2, GBps: 8e9, GiBps: 8 * 1024 ** 3, TBps: 8e12, TiBps: 8 * 1024 ** 4 },
};

const EXAMPLES = {
  'scalar-unit.size': '4 GB', 'scalar-unit.time': '30 s', 'scalar-unit.frequency': '2 GHz', 'scalar-unit.bitrate': '100 Mbps',
};

// parseScalar reads "4 GB" into base units (bytes, seconds...), or null.
export function parseScalar(type, text) {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$/.exec(String(text));
  const units = UNITS[type];
  if (!m || !units) return null;
  let factor = units[m[2]];
  if (factor === undefined && type !== 'scalar-unit.bitrate') factor = units[m[2].toLowerCase()];
  return factor === undefined ? null : Number(m[1]) * factor;
}

function versionParts(v) {
  const m = /^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.-](.+))?\s*$/.exec(String(v));
  return m ? [Number(m[1]), Number(m[2] || 0), Number(m[3] || 0)] : null;
}

function opOf(c) {
  const [op, arg] = Object.entries(c)[0] || [];
  const alias = { eq: 'equal', gt: 'greater_than', ge: 'greater_or_equal', lt: 'less_than', le: 'less_or_equal' };
  return [alias[op] || op, arg];
}

// comparable maps a value of the input's type to a number (or array for
// versions) so constraints can compare; null when it cannot.
function comparable(type, v) {
  if (type === 'integer' || type === 'float') return typeof v === 'number' ? v : Number(v);
  if (UNITS[type]) return parseScalar(type, v);
  if (type === 'version') return versionParts(v);
  return null;
}

function cmp(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  }
  return a - b;
}

function describeConstraint(c) {
  const [op, arg] = opOf(c);
  const text = (x) => (Array.isArray(x) ? x.join(', ') : String(x));
  switch (op) {
    case 'in_range': return `from ${arg[0]} to ${arg[1]}`;
    case 'greater_or_equal': return `at least ${arg}`;
    case 'greater_than': return `more than ${arg}`;
    case 'less_or_equal': return `at most ${arg}`;
    case 'less_than': return `less than ${arg}`;
    case 'equal': return `exactly ${arg}`;
    case 'valid_values': return `one of ${text(arg)}`;
    case 'length': return `exactly ${arg} characters`;
    case 'min_length': return `at least ${arg} characters`;
    case 'max_length': return `at most ${arg} characters`;
    case 'pattern': return `matching ${arg}`;
    default: return `${op} ${text(arg)}`;
  }
}

// check returns an error message for a typed value, or ''.
export function check(input, value) {
  const type = input.type;
  if (type === 'integer' && !Number.isInteger(value)) return 'Enter a whole number.';
  if (type === 'float' && (typeof value !== 'number' || Number.isNaN(value))) return 'Enter a number.';
  if (UNITS[type] && parseScalar(type, value) === null) return `Enter a number and a unit, such as ${EXAMPLES[type]}.`;
  if (type === 'version' && versionParts(value) === null) return 'Enter a version such as 1.2 or 24.04.';
  for (const c of input.constraints || []) {
    const [op, arg] = opOf(c);
    const bad = `Must be ${describeConstraint(c)}.`;
    if (op === 'valid_values') {
      if (!arg.some((x) => String(x) === String(value))) return bad;
      continue;
    }
    if (op === 'length' || op === 'min_length' || op === 'max_length') {
      const n = Array.isArray(value) ? value.length : typeof value === 'object' && value ? Object.keys(value).length : String(value).length;
      if ((op === 'length' && n !== arg) || (op === 'min_length' && n < arg) || (op === 'max_length' && n > arg)) return bad;
      continue;
    }
    const v = comparable(type, value);
    if (v === null) continue; // strings, lists...: the server decides
    const args = (op === 'in_range' ? arg : [arg]).map((a) => comparable(type, a));
    if (args.some((a) => a === null || (typeof a === 'number' && Number.isNaN(a)))) continue;
    if ((op === 'in_range' && (cmp(v, args[0]) < 0 || cmp(v, args[1]) > 0)) ||
      (op === 'greater_or_equal' && cmp(v, args[0]) < 0) || (op === 'greater_than' && cmp(v, args[0]) <= 0) ||
      (op === 'less_or_equal' && cmp(v, args[0]) > 0) || (op === 'less_than' && cmp(v, args[0]) >= 0) ||
      (op === 'equal' && cmp(v, args[0]) !== 0)) return bad;
  }
  return '';
}

function display(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v, null, 2) : String(v);
}

// inputFields builds one field per template input. values prefill them (the
// current inputs on an update; the defaults otherwise).
export function inputFields(inputs, values = {}) {
  return inputs.map((input) => {
    const name = `inputs.${input.name}`;
    const current = Object.prototype.hasOwnProperty.call(values, input.name) ? values[input.name] : input.default;
    const required = input.required && input.default === undefined;
    const constraints = input.constraints || [];
    const valid = constraints.map(opOf).find(([op]) => op === 'valid_values');
    let el;
    if (valid) {
      el = h('select', { name },
        !required ? h('option', { value: '' }, input.default !== undefined ? `Default (${display(input.default)})` : '—') : null,
        valid[1].map((v) => h('option', { value: String(v), selected: String(v) === display(current) }, String(v))));
      if (required && current === undefined) el.prepend(h('option', { value: '', selected: true, disabled: true }, 'Choose…'));
    } else if (input.type === 'boolean') {
      el = h('input', { name, type: 'checkbox', checked: current === true || current === 'true' });
    } else if (input.type === 'integer' || input.type === 'float') {
      el = h('input', { name, type: 'number', inputmode: input.type === 'integer' ? 'numeric' : 'decimal', step: input.type === 'integer' ? '1' : 'any', value: display(current) });
      for (const [op, arg] of constraints.map(opOf)) {
        if (op === 'in_range') { el.min = arg[0]; el.max = arg[1]; }
        if (op === 'greater_or_equal') el.min = arg;
        if (op === 'less_or_equal') el.max = arg;
      }
    } else if (input.type === 'list' || input.type === 'map' || (!['string', 'version', 'timestamp', 'range'].includes(input.type) && !UNITS[input.type])) {
      el = h('textarea', { name, rows: 3, class: 'mono', spellcheck: 'false', value: display(current) });
    } else {
      el = h('input', { name, type: 'text', value: display(current), spellcheck: 'false', autocomplete: 'off' });
      if (UNITS[input.type]) el.placeholder = `e.g. ${EXAMPLES[input.type]}`;
      for (const [op, arg] of constraints.map(opOf)) {
        if (op === 'max_length' || op === 'length') el.maxLength = arg;
      }
    }
    el.dataset.input = input.name;
    el.dataset.type = input.type;
    const rules = constraints.map(describeConstraint);
    const typeText = input.type === 'list' || input.type === 'map' ? `${input.type} as JSON${input.entry_schema ? ` of ${input.entry_schema}` : ''}` : input.type;
    const desc = input.description && !/[.!?]$/.test(input.description.trim()) ? `${input.description.trim()}.` : input.description;
    const help = [desc, `Type: ${typeText}.`, rules.length ? `Must be ${rules.join('; ')}.` : '',
      input.default !== undefined ? `Default: ${display(input.default)}.` : ''].filter(Boolean).join(' ');
    const f = field({ label: input.name, input: el, required, help });
    f.input = input;
    f.control = el;
    return f;
  });
}

// readFields reads typed values and the browser-side errors of generated fields.
// Empty optional fields are left out (the server applies defaults).
export function readFields(fields) {
  const values = {};
  const errors = [];
  for (const f of fields) {
    const { input, control } = f;
    const name = `inputs.${input.name}`;
    const required = input.required && input.default === undefined;
    let v;
    if (control.type === 'checkbox') v = control.checked;
    else {
      const raw = control.value.trim();
      if (raw === '') {
        if (required) errors.push({ field: name, message: 'This input is required.' });
        continue;
      }
      if (control.tagName === 'SELECT') {
        v = raw;
        if (input.type === 'integer' || input.type === 'float') v = Number(raw);
        if (input.type === 'boolean') v = raw === 'true';
      } else if (control.tagName === 'TEXTAREA') {
        try { v = JSON.parse(raw); } catch { errors.push({ field: name, message: 'Enter valid JSON, for example ["a", "b"] or {"key": "value"}.' }); continue; }
      } else if (input.type === 'integer' || input.type === 'float') {
        v = Number(raw);
        if (control.validity && control.validity.badInput) v = NaN;
      } else v = raw;
    }
    const msg = check(input, v);
    if (msg) errors.push({ field: name, message: msg });
    else values[input.name] = v;
  }
  return { values, errors };
}

// parseLabels reads "key=value" lines.
export function parseLabels(text) {
  const labels = {};
  const errors = [];
  for (const line of String(text).split(/\n|,/)) {
    const l = line.trim();
    if (!l) continue;
    const i = l.indexOf('=');
    const k = (i < 0 ? l : l.slice(0, i)).trim();
    const v = i < 0 ? '' : l.slice(i + 1).trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/.test(k)) errors.push(`"${k}" is not a valid label key (letters, digits, '.', '_', '/', '-').`);
    else labels[k] = v;
  }
  return { labels, errors };
}

export function formatLabels(labels) {
  return Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join('\n');
}
