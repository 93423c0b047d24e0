// Vietnamese vs foreign platforms per category (GET /v1/compare/origin): the category's leading platforms by
// monthly users, a metric summed per origin, the shares and the split chart of the Q1/2022 report.

import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { METRICS, scaleOf } from '../format.js';
import { html, useLoad, Loaded, Table, ChartBox, Select, Figure, COLORS, ORIGIN_COLORS } from '../ui.js';
import { categoryLabel } from './overview.js';

const ORIGINS = ['vn', 'foreign'];

export function OriginPage({ context, period, t, f, lang }) {
  const [choice, setChoice] = useState({ category: 'communication', metric: 'mb_per_user_month', top: '5' });
  const set = (name) => (value) => setChoice({ ...choice, [name]: value });
  const state = useLoad(async () => {
    const ids = Object.keys(context.categories);
    const answers = await Promise.all(ids.map((category) => getJson('/v1/compare/origin',
      { period, category, metric: choice.metric, top: choice.top })));
    return answers.filter((a) => a.vn.platforms.length + a.foreign.platforms.length > 0);
  }, [period, choice.metric, choice.top]);
  const kindOf = (platform) => (context.platforms[platform] || {}).kind || 'app';
  const scaleFor = (compare) => {
    const first = [...compare.vn.platforms, ...compare.foreign.platforms][0];
    return scaleOf(choice.metric, first ? kindOf(first.platform) : 'app', context.demo);
  };
  const total = (compare, origin) => compare[origin].total * scaleFor(compare);
  return html`
    <div class="filters">
      <${Select} id="category" label=${t('category')} value=${choice.category} onChange=${set('category')}
        options=${Object.keys(context.categories).map((id) => [id, categoryLabel(context, lang, id)])} />
      <${Select} id="metric" label=${t('metric')} value=${choice.metric} onChange=${set('metric')}
        options=${METRICS.map((m) => [m, t(m)])} />
      <${Select} id="top" label=${t('top')} value=${choice.top} onChange=${set('top')}
        options=${['3', '5', '10', '20'].map((n) => [n, n])} />
    </div>
    <${Loaded} state=${state} t=${t}>${(answers) => {
      const chosen = answers.find((a) => a.category === choice.category);
      return html`
        ${chosen ? Detail({ compare: chosen, context, t, f, lang, metric: choice.metric, period, scale: scaleFor(chosen), kindOf })
          : html`<p class="note" data-testid="no-data">${t('no_data')}</p>`}
        <${Table} id="per-category" title=${t('per_category')} t=${t} filename=${`compare-${period}-${choice.metric}`}
          rows=${answers} columns=${[
            { label: t('category'), value: (a) => categoryLabel(context, lang, a.category),
              show: (a) => html`<a href="#/origin" onClick=${(e) => { e.preventDefault(); set('category')(a.category); }}>
                ${categoryLabel(context, lang, a.category)}</a>` },
            { label: `${t('vn')}: ${t('total')}`, value: (a) => total(a, 'vn'), show: (a) => f.metric(choice.metric, total(a, 'vn')), num: true },
            { label: `${t('foreign')}: ${t('total')}`, value: (a) => total(a, 'foreign'),
              show: (a) => f.metric(choice.metric, total(a, 'foreign')), num: true },
            { id: 'vn-share', label: `${t('vn')}: ${t('share')}`, value: (a) => a.vn.share, show: (a) => f.percent(a.vn.share), num: true },
            { id: 'foreign-share', label: `${t('foreign')}: ${t('share')}`, value: (a) => a.foreign.share,
              show: (a) => f.percent(a.foreign.share), num: true },
            { label: t('ratio'), value: (a) => a.ratio_vn_to_foreign, show: (a) => f.decimal(a.ratio_vn_to_foreign, 2), num: true },
          ]} />`;
    }}</${Loaded}>`;
}

function Detail({ compare, context, t, f, lang, metric, period, scale, kindOf }) {
  const rows = ORIGINS.flatMap((origin) => compare[origin].platforms.map((p) => ({ ...p, origin })));
  const label = (origin) => `${t(origin)} (${f.percent(compare[origin].share)})`;
  return html`
    <div class="figures" data-testid="origin-figures">
      ${ORIGINS.map((origin) => html`
        <${Figure} id=${`${origin}-share`} label=${`${t(origin)}: ${compare[origin].platforms.map((p) => p.name).join(', ') || '–'}`}
          value=${f.percent(compare[origin].share)} sub=${f.metric(metric, compare[origin].total * scale)} />`)}
      <${Figure} id="ratio" label=${t('ratio_vn_to_foreign')} value=${f.decimal(compare.ratio_vn_to_foreign, 2)} />
    </div>
    <h2>${t('split_chart', { metric: t(metric) })} — ${categoryLabel(context, lang, compare.category)}</h2>
    <${ChartBox} id="split" height=${220} config=${{
      type: 'bar',
      data: { labels: ORIGINS.map(label), datasets: rows.map((p, i) => ({
        label: p.name, data: ORIGINS.map((origin) => (origin === p.origin ? p.value * scaleOf(metric, kindOf(p.platform), context.demo) : 0)),
        backgroundColor: COLORS[i % COLORS.length] })) },
      options: { indexAxis: 'y', scales: { x: { stacked: true }, y: { stacked: true } },
        plugins: { legend: { position: 'bottom' }, title: { display: true,
          text: ORIGINS.map((o) => `${t(o)}: ${f.metric(metric, compare[o].total * scale)} (${f.percent(compare[o].share)})`).join('   ·   '),
          color: ORIGIN_COLORS.vn } } } }} />
    <${Table} id="origin-platforms" t=${t} filename=${`compare-${period}-${compare.category}-${metric}`} rows=${rows}
      columns=${[
        { label: t('origin_col'), value: (p) => t(p.origin) },
        { id: 'name', label: t('name'), value: (p) => p.name },
        { id: 'mau_avg', label: t('mau_avg'), value: (p) => p.mau_avg * scaleOf('mau_avg', kindOf(p.platform), context.demo),
          show: (p) => f.count(p.mau_avg * scaleOf('mau_avg', kindOf(p.platform), context.demo)), num: true },
        { id: 'value', label: t(metric), value: (p) => p.value * scaleOf(metric, kindOf(p.platform), context.demo),
          show: (p) => f.metric(metric, p.value * scaleOf(metric, kindOf(p.platform), context.demo)), num: true },
      ]} />`;
}
