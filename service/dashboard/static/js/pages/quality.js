// Data quality of a period (GET /v1/quality): what became of the rows each vendor sent, per platform over the
// period and per arrival day (accepted, duplicates, rejected), rejections by reason, the lateness of accepted rows,
// and which of the period's months are sealed. A vendor key gets its own rows only (the API scopes it).

import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { html, useLoad, Loaded, Table, ChartBox, Select } from '../ui.js';

const OUTCOMES = [['accepted', '#2a9d8f'], ['duplicates', '#e0a800'], ['rejected', '#c8102e']];
const LATENESS = ['lt_1h', 'lt_1d', 'lt_7d', 'older'];
const REASONS = ['malformed', 'too_large', 'missing_field', 'invalid_field', 'unknown_platform', 'platform_not_allowed',
  'future_timestamp', 'month_sealed']; // the closed set of docs/INGESTION.md, in its order

/** A platform's name; null is the rows that were not one of the vendor's own platforms. */
export function platformName(context, t, id) {
  if (id === null) return t('not_attributed');
  return (context.platforms[id] || {}).name || id;
}

/** The order of rows: by vendor, then platform name (the rows of no platform last). */
function platformOrder(context, t) {
  const key = (row) => [row.vendor, row.platform === null ? 1 : 0, platformName(context, t, row.platform)];
  return (a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0].localeCompare(y[0]) || x[1] - y[1] || x[2].localeCompare(y[2]);
  };
}

export function QualityPage({ context, period, t, f, lang }) {
  const [platform, setPlatform] = useState('');
  const state = useLoad(() => getJson('/v1/quality', { period, platform }), [period, platform]);
  const names = Object.values(context.platforms).sort((a, b) => a.name.localeCompare(b.name, lang));
  return html`
    <div class="filters">
      <${Select} id="quality-platform" label=${t('name')} value=${platform} onChange=${setPlatform}
        options=${[['', t('all_platforms')], ...names.map((p) => [p.platform_id, p.name])]} />
    </div>
    <p class="note">${t('quality_note')}${context.demo ? ` ${t('rows_not_scaled')}` : ''}</p>
    <${Loaded} state=${state} t=${t}>${(quality) => html`
      <p class="note" data-testid="sealed-before">${quality.sealed_before
        ? t('sealed_before', { month: f.month(quality.sealed_before) }) : t('none_sealed')}</p>
      ${quality.totals.length === 0 ? html`<p class="note" data-testid="no-rows">${t('no_rows')}</p>`
        : Figures({ quality, context, t, f, period })}
      <${Table} id="quality-months" title=${t('period_months')} t=${t} filename=${`quality-${period}-months`}
        note=${t('sealed_help')} rows=${quality.months} columns=${[
          { id: 'month', label: t('month_col'), value: (m) => m.month, show: (m) => f.month(m.month) },
          { id: 'sealed', label: t('state'), value: (m) => m.sealed,
            show: (m) => html`<span class=${m.sealed ? 'sealed' : ''}>${t(m.sealed ? 'sealed' : 'open_month')}</span>` },
        ]} />`}</${Loaded}>`;
}

function Figures({ quality, context, t, f, period }) {
  const reader = context.me.role !== 'vendor';
  const name = (row) => platformName(context, t, row.platform);
  const who = [
    { id: 'vendor', label: t('vendor'), value: (row) => row.vendor, csvOnly: !reader },
    { id: 'platform', label: t('name'), value: name },
  ];
  const outcomes = [
    { id: 'received', label: t('received'), value: (row) => row.received, show: (row) => f.integer(row.received), num: true },
    ...OUTCOMES.map(([outcome]) => (
      { id: outcome, label: t(outcome), value: (row) => row[outcome], show: (row) => f.integer(row[outcome]), num: true })),
  ];
  const lateness = LATENESS.map((bucket) => (
    { id: bucket, label: t(bucket), value: (row) => row.lateness[bucket], show: (row) => f.integer(row.lateness[bucket]), num: true }));
  const reasons = REASONS.concat(Object.keys(Object.assign({}, ...quality.items.map((row) => row.rejected_by_reason)))
    .filter((reason) => !REASONS.includes(reason)));
  const reasonColumns = reasons.map((reason) => ({ label: `${t('rejected')}: ${reason}`, csvOnly: true,
    value: (row) => row.rejected_by_reason[reason] || 0 }));
  const totals = [...quality.totals].sort(platformOrder(context, t));
  const days = perDay(quality.items);
  const rejections = totals.flatMap((row) => reasons.filter((reason) => row.rejected_by_reason[reason])
    .map((reason) => ({ ...row, reason, rows: row.rejected_by_reason[reason] })));
  return html`
    <${Table} id="quality-totals" title=${t('quality_totals')} t=${t} filename=${`quality-${period}-platforms`} rows=${totals}
      columns=${[...who, ...outcomes, ...lateness.map((c) => ({ ...c, csvOnly: true })), ...reasonColumns]} />
    <h2>${t('quality_chart')}</h2>
    <${ChartBox} id="quality-days" height=${260} config=${{
      type: 'bar',
      data: { labels: days.map((row) => f.day(row.day)), datasets: OUTCOMES.map(([outcome, color]) => ({
        label: t(outcome), backgroundColor: color, maxBarThickness: 64, data: days.map((row) => row[outcome]),
      })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } } } }} />
    <${Table} id="quality-days" title=${t('quality_days')} t=${t} filename=${`quality-${period}-days`} rows=${days}
      note=${t('quality_days_note')} columns=${[{ id: 'day', label: t('day'), value: (row) => row.day, show: (row) => f.day(row.day) },
        ...outcomes, ...lateness.map((c) => ({ ...c, csvOnly: true })), ...reasonColumns]} />
    ${rejections.length ? html`
      <${Table} id="quality-reasons" title=${t('rejections')} t=${t} filename=${`quality-${period}-rejections`}
        rows=${rejections} columns=${[...who,
          { id: 'reason', label: t('reason'), value: (row) => row.reason,
            show: (row) => html`${REASONS.includes(row.reason) ? t(`reason_${row.reason}`) : ''} <code>${row.reason}</code>` },
          { id: 'rows', label: t('rows'), value: (row) => row.rows, show: (row) => f.integer(row.rows), num: true }]} />`
      : html`<p class="note" data-testid="no-rejections">${t('no_rejections')}</p>`}
    <${Table} id="quality-lateness" title=${t('lateness')} t=${t} filename=${`quality-${period}-lateness`}
      rows=${totals.filter((row) => row.platform !== null)} columns=${[...who, ...lateness]} />`;
}

/** The rows of each arrival day summed over the vendors and platforms shown, in the order of the days. */
function perDay(items) {
  const days = new Map();
  for (const row of items) {
    if (!days.has(row.day)) {
      days.set(row.day, { day: row.day, received: 0, accepted: 0, duplicates: 0, rejected: 0, rejected_by_reason: {},
        lateness: Object.fromEntries(LATENESS.map((bucket) => [bucket, 0])) });
    }
    const sum = days.get(row.day);
    for (const outcome of ['received', 'accepted', 'duplicates', 'rejected']) sum[outcome] += row[outcome];
    for (const bucket of LATENESS) sum.lateness[bucket] += row.lateness[bucket];
    for (const [reason, rows] of Object.entries(row.rejected_by_reason)) {
      sum.rejected_by_reason[reason] = (sum.rejected_by_reason[reason] || 0) + rows;
    }
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}
