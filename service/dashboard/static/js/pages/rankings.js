// Rankings of a period (GET /v1/rankings) by category, metric, origin and kind.

import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { METRICS, scaleOf } from '../format.js';
import { html, useLoad, Loaded, Table, ChartBox, Select, ORIGIN_COLORS } from '../ui.js';
import { categoryLabel } from './overview.js';

const CHART_TOP = 15;

export function RankingsPage({ context, period, t, f, lang }) {
  const [filters, setFilters] = useState({ category: '', metric: 'mau_avg', origin: 'all', kind: '' });
  const set = (name) => (value) => setFilters({ ...filters, [name]: value });
  const state = useLoad(() => getJson('/v1/rankings', { period, ...filters }), [period, JSON.stringify(filters)]);
  const value = (item) => item.value * scaleOf(filters.metric, item.kind, context.demo);
  return html`
    <div class="filters">
      <${Select} id="category" label=${t('category')} value=${filters.category} onChange=${set('category')}
        options=${[['', t('all')], ...Object.keys(context.categories).map((id) => [id, categoryLabel(context, lang, id)])]} />
      <${Select} id="metric" label=${t('metric')} value=${filters.metric} onChange=${set('metric')}
        options=${METRICS.map((m) => [m, t(m)])} />
      <${Select} id="origin" label=${t('origin_col')} value=${filters.origin} onChange=${set('origin')}
        options=${[['all', t('all')], ['vn', t('vn')], ['foreign', t('foreign')]]} />
      <${Select} id="kind" label=${t('kind')} value=${filters.kind} onChange=${set('kind')}
        options=${[['', t('all')], ['app', t('app')], ['web', t('web')]]} />
    </div>
    <${Loaded} state=${state} t=${t}>${(ranking) => (ranking.items.length === 0 ? html`<p class="note">${t('no_data')}</p>` : html`
      <${ChartBox} id="rankings" height=${Math.max(160, 28 * Math.min(CHART_TOP, ranking.items.length) + 60)} config=${{
        type: 'bar',
        data: { labels: ranking.items.slice(0, CHART_TOP).map((i) => i.name), datasets: [{ label: t(filters.metric),
          data: ranking.items.slice(0, CHART_TOP).map(value),
          backgroundColor: ranking.items.slice(0, CHART_TOP).map((i) => ORIGIN_COLORS[i.origin]) }] },
        options: { indexAxis: 'y', plugins: { legend: { display: false } } } }} />
      <${Table} id="rankings" t=${t} filename=${`rankings-${period}-${filters.metric}`} rows=${ranking.items} columns=${[
        { id: 'rank', label: t('rank'), value: (i) => i.rank, num: true },
        { id: 'name', label: t('name'), value: (i) => i.name,
          show: (i) => (context.platforms[i.platform] ? html`<a href=${`#/platform/${i.platform}`}>${i.name}</a>` : i.name) },
        { label: t('origin_col'), value: (i) => t(i.origin) },
        { label: t('category'), value: (i) => categoryLabel(context, lang, i.category) },
        { label: t('kind'), value: (i) => t(i.kind) },
        { id: 'value', label: t(filters.metric), value, show: (i) => f.metric(filters.metric, value(i)), num: true },
        { id: 'yoy', label: t('yoy'), value: (i) => i.yoy, show: (i) => f.change(i.yoy), num: true },
      ]} />`)}</${Loaded}>`;
}
