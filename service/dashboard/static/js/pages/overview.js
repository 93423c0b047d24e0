// Overview of a period (GET /v1/overview): Vietnamese platforms by size band and category, hours per user,
// the share of users on Vietnamese platforms.

import { getJson } from '../api.js';
import { html, useLoad, Loaded, Table, ChartBox, Figure, COLORS, ORIGIN_COLORS } from '../ui.js';

const BAND_EDGES = [1000000, 5000000]; // the reports' bands: under 1 million, 1 to 5 million, 5 million and more

export function categoryLabel(context, lang, id) {
  const category = context.categories[id];
  return category ? category[lang === 'vi' ? 'label_vi' : 'label_en'] : id;
}

export function OverviewPage({ context, period, t, f, lang }) {
  const users = context.demo ? context.demo.users : 1;
  const edges = BAND_EDGES.map((edge) => Math.max(1, Math.floor(edge / users))); // the demo stores users / scale
  const state = useLoad(() => getJson('/v1/overview', { period, band_edges: edges.join(',') }), [period]);
  return html`<${Loaded} state=${state} t=${t}>${(overview) => {
    const band = (b) => (b.max === null ? `≥ ${f.count(b.min * users)}`
      : b.min === 0 ? `< ${f.count(b.max * users)}` : `${f.count(b.min * users)} – ${f.count(b.max * users)}`);
    const categories = Object.entries(overview.categories);
    return html`
      <div class="figures">
        <${Figure} id="platforms_active" label=${t('platforms_active')} value=${f.integer(overview.platforms_active)} />
        <${Figure} id="mau_total" label=${t('mau_total')} value=${f.count(overview.mau_total * users)}
          title=${f.integer(overview.mau_total * users)} />
        <${Figure} id="hours_per_user_month" label=${t('hours_per_user_month')}
          value=${f.decimal(overview.hours_per_user_month, 2)} />
        <${Figure} id="share_of_users" label=${t('share_of_users')} value=${f.percent(overview.share_of_users)}
          sub=${overview.share_of_users === null ? '' : `${t('share_of_users_foreign')}: ${f.percent(1 - overview.share_of_users)}`} />
      </div>
      <div class="grid">
        <div>
          <${Table} id="bands" title=${t('bands')} t=${t} filename=${`overview-${period}-bands`} rows=${overview.bands}
            columns=${[
              { label: t('band'), value: band },
              { label: `${t('band')} (min)`, value: (b) => b.min * users, show: (b) => f.integer(b.min * users), num: true },
              { label: `${t('band')} (max)`, value: (b) => (b.max === null ? null : b.max * users),
                show: (b) => (b.max === null ? '–' : f.integer(b.max * users)), num: true },
              { id: 'platforms', label: t('platforms'), value: (b) => b.platforms, num: true },
            ]} />
          <${ChartBox} id="bands" config=${{ type: 'bar', data: { labels: overview.bands.map(band),
            datasets: [{ label: t('platforms'), data: overview.bands.map((b) => b.platforms), backgroundColor: ORIGIN_COLORS.vn }] },
            options: { plugins: { legend: { display: false } }, scales: { y: { ticks: { precision: 0 } } } } }} />
        </div>
        <div>
          <${Table} id="categories" title=${t('category_mix', { min: f.count(edges[0] * users) })} t=${t}
            filename=${`overview-${period}-categories`} rows=${categories} columns=${[
              { label: t('category'), value: ([id]) => categoryLabel(context, lang, id) },
              { id: 'platforms', label: t('platforms'), value: ([, count]) => count, num: true },
            ]} />
          ${categories.length ? html`<${ChartBox} id="categories" config=${{ type: 'doughnut',
            data: { labels: categories.map(([id]) => categoryLabel(context, lang, id)),
              datasets: [{ data: categories.map(([, count]) => count), backgroundColor: COLORS }] },
            options: { plugins: { legend: { position: 'right' } } } }} />` : html`<p class="note">${t('no_data')}</p>`}
        </div>
      </div>`;
  }}</${Loaded}>`;
}
