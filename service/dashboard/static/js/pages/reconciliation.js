// Reconciliation of a period (GET /v1/reconciliation): each declared control total against the rows that arrived
// with a ts in its month and against the month's measured MAU, with the differences and their shares; a vendor key
// declares a month's totals for one of its own platforms here (PUT /v1/platforms/{id}/declared/{YYYY-MM}).

import { useState } from 'preact/hooks';
import { call, getJson } from '../api.js';
import { html, useLoad, Loaded, Table, Select, ErrorBox, periodMonths } from '../ui.js';
import { platformName } from './quality.js';

export function ReconciliationPage({ context, period, t, f, lang }) {
  const [reloads, setReloads] = useState(0);
  const state = useLoad(() => getJson('/v1/reconciliation', { period }), [period, reloads]);
  return html`
    <p class="note">${t('recon_note')}${context.demo ? ` ${t('rows_not_scaled')}` : ''}</p>
    ${context.me.role === 'vendor' && html`
      <${DeclareForm} context=${context} period=${period} t=${t} f=${f} lang=${lang}
        onDeclared=${() => setReloads((n) => n + 1)} />`}
    <${Loaded} state=${state} t=${t}>${(answer) => (answer.items.length === 0
      ? html`<p class="note" data-testid="no-declarations">${t('no_declarations')}</p>`
      : Declarations({ items: answer.items, context, t, f, period }))}</${Loaded}>`;
}

function Declarations({ items, context, t, f, period }) {
  const who = [
    { id: 'vendor', label: t('vendor'), value: (i) => i.vendor, csvOnly: context.me.role === 'vendor' },
    { id: 'platform', label: t('name'), value: (i) => platformName(context, t, i.platform) },
    { id: 'month', label: t('month_col'), value: (i) => i.month, show: (i) => f.month(i.month) },
  ];
  const declaredBy = [
    { label: t('declared_by'), value: (i) => i.declared_by, csvOnly: true },
    { id: 'declared-at', label: t('declared_at'), value: (i) => i.declared_at, show: (i) => f.datetime(i.declared_at) },
  ];
  const count = (id, label, read) => ({ id, label, value: read, show: (i) => f.integer(read(i)), num: true });
  const difference = (id, label, read) => ({ id, label, value: read, show: (i) => f.signed(read(i)), num: true });
  const share = (id, label, read) => ({ id, label, value: read, show: (i) => f.signedPercent(read(i)), num: true });
  return html`
    <${Table} id="recon-events" title=${t('recon_events')} t=${t} filename=${`reconciliation-${period}-events`} rows=${items}
      columns=${[...who,
        count('declared', t('declared'), (i) => i.events.declared),
        count('received', t('received'), (i) => i.events.received),
        difference('difference', t('difference_received'), (i) => i.events.difference),
        share('share', t('share_received'), (i) => i.events.share),
        count('accepted', t('accepted'), (i) => i.events.accepted),
        difference('accepted-difference', t('difference_accepted'), (i) => i.events.accepted_difference),
        share('accepted-share', t('share_accepted'), (i) => i.events.accepted_share),
        { ...count('duplicates', t('duplicates'), (i) => i.events.duplicates), csvOnly: true },
        { ...count('rejected', t('rejected'), (i) => i.events.rejected), csvOnly: true },
        ...declaredBy]} />
    <${Table} id="recon-users" title=${t('recon_users')} t=${t} filename=${`reconciliation-${period}-users`} rows=${items}
      columns=${[...who,
        count('declared', t('declared'), (i) => i.users.declared),
        count('measured', t('measured_mau'), (i) => i.users.measured_mau),
        difference('difference', t('difference'), (i) => i.users.difference),
        share('share', t('share'), (i) => i.users.share),
        ...declaredBy]} />`;
}

/** What a box of the form sends: nothing when empty, a number when it is a whole number, else the text as typed
 * (the API then names the problem: the page does not judge a declaration itself). */
function boxValue(text) {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return /^-?[0-9]+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

function DeclareForm({ context, period, t, f, lang, onDeclared }) {
  const platforms = Object.values(context.platforms).sort((a, b) => a.name.localeCompare(b.name, lang));
  const months = periodMonths(period);
  const [form, setForm] = useState({ platform: platforms.length ? platforms[0].platform_id : '', month: '', events: '', users: '' });
  const [outcome, setOutcome] = useState(null); // {done: {platform, month}} or {error}
  const [busy, setBusy] = useState(false);
  const month = months.includes(form.month) ? form.month : months[0];
  const set = (name) => (value) => setForm({ ...form, [name]: value });
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setOutcome(null);
    try {
      const body = { events: boxValue(form.events), users: boxValue(form.users) };
      await call(`/v1/platforms/${encodeURIComponent(form.platform)}/declared/${month}`, { method: 'PUT', json: body });
      setOutcome({ done: { platform: form.platform, month } });
      onDeclared();
    } catch (error) {
      setOutcome({ error });
    } finally {
      setBusy(false);
    }
  };
  const box = (name, label) => html`
    <label class="field">${label}
      <input type="text" inputmode="numeric" autocomplete="off" value=${form[name]} data-testid=${`declare-${name}`}
        onInput=${(e) => set(name)(e.target.value)} />
    </label>`;
  return html`
    <form class="declare" onSubmit=${submit} data-testid="declare-form">
      <h2>${t('declare_title')}</h2>
      <div class="filters">
        <${Select} id="declare-platform" label=${t('name')} value=${form.platform} onChange=${set('platform')}
          options=${platforms.map((p) => [p.platform_id, p.name])} />
        <${Select} id="declare-month" label=${t('month_col')} value=${month} onChange=${set('month')}
          options=${months.map((m) => [m, f.month(m)])} />
        ${box('events', t('declare_events'))}
        ${box('users', t('declare_users'))}
        <button type="submit" disabled=${busy || !form.platform} data-testid="declare-button">${t('declare')}</button>
      </div>
      <p class="note">${t('declare_help')}</p>
      ${outcome && outcome.done && html`<p class="done" role="status" data-testid="declared">${t('declared_ok',
        { platform: platformName(context, t, outcome.done.platform), month: f.month(outcome.done.month) })}</p>`}
      ${outcome && outcome.error && html`<${ErrorBox} error=${outcome.error} t=${t} />`}
    </form>`;
}
