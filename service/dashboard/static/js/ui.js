// Building blocks of the pages: data loading, tables exportable as CSV, charts, figures, pickers.

import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { saveBlob } from './api.js';

export const html = htm.bind(h);
const { Chart, Papa } = window;

Chart.defaults.animation = false; // figures appear at once (and screenshots show them)
Chart.defaults.font.family = 'system-ui, "DejaVu Sans", sans-serif';
export const COLORS = ['#c8102e', '#1f5aa6', '#e0a800', '#2a9d8f', '#7b4ea3', '#e76f51', '#6c757d', '#264653',
  '#8ab17d', '#f4a261', '#457b9d', '#b5838d', '#588157', '#9c6644'];
export const ORIGIN_COLORS = { vn: '#c8102e', foreign: '#1f5aa6' };

/** Go to a page of the dashboard (the #fragment of the URL names it). */
export function navigate(page, arg) {
  location.hash = `#/${page}${arg ? `/${encodeURIComponent(arg)}` : ''}`;
}

/** Runs `load` (an async function) whenever `deps` change: {data, error, loading}. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  useEffect(() => {
    let live = true;
    setState((old) => ({ data: old.data, error: null, loading: true }));
    load().then((data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }));
    return () => { live = false; };
  }, deps);
  return state;
}

export function Loading({ t }) {
  return html`<p class="loading" data-testid="loading">${t('loading')}</p>`;
}

export function ErrorBox({ error, t }) {
  const status = error && error.status ? ` ${error.status}` : '';
  return html`<p class="error" role="alert" data-testid="error">${t('error')}${status}: ${error ? error.message : ''}</p>`;
}

/** Shows `children(data)` once loaded, or the loading text, or the error. */
export function Loaded({ state, t, children }) {
  if (state.error) return html`<${ErrorBox} error=${state.error} t=${t} />`;
  if (state.loading && !state.data) return html`<${Loading} t=${t} />`;
  return children(state.data);
}

/**
 * A table of `rows`. Each column: {label, value: row => raw value (for CSV), show: row => shown text, num,
 * csvOnly: exported but not shown}.
 * Its CSV holds the raw values (multiplied by the demo scale where the table shows them so), not the shown text.
 */
export function Table({ id, title, columns, rows, filename, t, note }) {
  const shown = columns.filter((c) => !c.csvOnly);
  const exportCsv = () => {
    const text = Papa.unparse({ fields: columns.map((c) => c.label),
      data: rows.map((row) => columns.map((c) => csvValue(c.value(row)))) });
    saveBlob(new Blob(['\ufeff', text], { type: 'text/csv;charset=utf-8' }), `${filename}.csv`);
  };
  return html`
    <section class="table-box" data-testid=${`table-${id}`}>
      <div class="table-head">
        ${title && html`<h3>${title}</h3>`}
        <button type="button" class="secondary" data-testid=${`csv-${id}`} onClick=${exportCsv}>${t('export_csv')}</button>
      </div>
      ${note && html`<p class="note">${note}</p>`}
      <div class="scroll">
        <table>
          <thead><tr>${shown.map((c) => html`<th class=${c.num ? 'num' : ''}>${c.label}</th>`)}</tr></thead>
          <tbody>
            ${rows.map((row) => html`<tr>${shown.map((c) => html`
              <td class=${c.num ? 'num' : ''} data-col=${c.id || ''}>${(c.show || c.value)(row)}</td>`)}</tr>`)}
          </tbody>
        </table>
      </div>
    </section>`;
}

function csvValue(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return value;
}

/** A Chart.js chart of `config`, redrawn when the config changes. */
export function ChartBox({ config, id, height = 280 }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new Chart(canvas.current, { ...config, options: { maintainAspectRatio: false, ...config.options } });
    return () => chart.destroy();
  }, [JSON.stringify(config)]);
  return html`<div class="chart" style=${`height:${height}px`} data-testid=${`chart-${id}`}><canvas ref=${canvas}></canvas></div>`;
}

/** One figure with its label and, below, a smaller line (a change, a month). */
export function Figure({ id, label, value, sub, title }) {
  return html`
    <div class="figure" data-testid=${`figure-${id}`} title=${title || ''}>
      <div class="figure-label">${label}</div>
      <div class="figure-value" data-testid=${`value-${id}`}>${value}</div>
      ${sub && html`<div class="figure-sub">${sub}</div>`}
    </div>`;
}

/** A labelled <select> of `options` ([value, text] pairs). */
export function Select({ id, label, value, options, onChange }) {
  return html`
    <label class="field">${label}
      <select data-testid=${`select-${id}`} value=${value} onChange=${(e) => onChange(e.target.value)}>
        ${options.map(([v, text]) => html`<option value=${v} selected=${v === value}>${text}</option>`)}
      </select>
    </label>`;
}

const KINDS = [['month', 12, (n) => String(n).padStart(2, '0')], ['quarter', 4, (n) => `Q${n}`],
  ['half', 2, (n) => `H${n}`], ['year', 1, () => '']];

/** The period's kind, year and index, from a label such as 2022-03, 2022-Q1, 2022-H1 or 2022. */
export function parsePeriod(label) {
  let match = /^(\d{4})-(\d{2})$/.exec(label);
  if (match) return { kind: 'month', year: Number(match[1]), index: Number(match[2]) };
  match = /^(\d{4})-Q([1-4])$/.exec(label);
  if (match) return { kind: 'quarter', year: Number(match[1]), index: Number(match[2]) };
  match = /^(\d{4})-H([12])$/.exec(label);
  if (match) return { kind: 'half', year: Number(match[1]), index: Number(match[2]) };
  match = /^(\d{4})$/.exec(label);
  if (match) return { kind: 'year', year: Number(match[1]), index: 1 };
  return null;
}

export function periodLabel({ kind, year, index }) {
  const [, count, suffix] = KINDS.find(([name]) => name === kind);
  const n = Math.min(Math.max(index, 1), count);
  return kind === 'year' ? String(year) : `${year}-${suffix(n)}`;
}

/** The months (YYYY-MM) of a period label. */
export function periodMonths(label) {
  const { kind, year, index } = parsePeriod(label);
  const length = { month: 1, quarter: 3, half: 6, year: 12 }[kind];
  const first = kind === 'month' ? index : (index - 1) * length + 1;
  return Array.from({ length }, (_, i) => `${year}-${String(first + i).padStart(2, '0')}`);
}

/** Month, quarter, half year or year, and which one. */
export function PeriodPicker({ period, onChange, years, t }) {
  const current = parsePeriod(period);
  const set = (change) => onChange(periodLabel({ ...current, ...change }));
  const kind = KINDS.find(([name]) => name === current.kind);
  return html`
    <div class="period-picker" data-testid="period-picker">
      <${Select} id="period-kind" label=${t('period')} value=${current.kind}
        options=${KINDS.map(([name]) => [name, t(name)])}
        onChange=${(value) => set({ kind: value, index: 1 })} />
      <${Select} id="period-year" label=${t('year')} value=${String(current.year)}
        options=${years.map((y) => [String(y), String(y)])} onChange=${(value) => set({ year: Number(value) })} />
      ${current.kind !== 'year' && html`
        <${Select} id="period-index" label=${t(current.kind)} value=${String(current.index)}
          options=${Array.from({ length: kind[1] }, (_, i) => [String(i + 1), kind[2](i + 1)])}
          onChange=${(value) => set({ index: Number(value) })} />`}
      <output data-testid="period-label">${period}</output>
    </div>`;
}
