// One platform (GET /v1/platforms/{id}/metrics and /breakdown): its figures over the period with their changes on
// the year before and the previous period, its monthly trend, and its users by province, country and OS.

import { getJson } from '../api.js';
import { CHANGE_METRICS, METRICS, scaleOf, scaled } from '../format.js';
import { html, useLoad, Loaded, Table, ChartBox, Figure, Select, navigate, periodMonths, ORIGIN_COLORS } from '../ui.js';

const TREND_MONTHS = 15; // the period's last month and the 14 before it: a quarter and the same quarter a year before
const DIMENSIONS = [['province', 'by_province'], ['country', 'by_country'], ['os', 'by_os']];

export function PlatformPage({ context, period, t, f, lang, arg }) {
  const names = Object.values(context.platforms).sort((a, b) => a.name.localeCompare(b.name, lang));
  const id = arg || (names[0] && names[0].platform_id);
  const platform = context.platforms[id] || { platform_id: id, name: id, kind: 'app' };
  const options = names.map((p) => [p.platform_id, p.name]);
  if (id && !context.platforms[id]) options.push([id, id]);
  return html`
    <div class="filters">
      <${Select} id="platform" label=${t('choose_platform')} value=${id || ''} options=${options}
        onChange=${(value) => navigate('platform', value)} />
    </div>
    ${id ? html`<${Platform} key=${id} platform=${platform} context=${context} period=${period} t=${t} f=${f} lang=${lang} />`
      : html`<p class="note">${t('no_data')}</p>`}`;
}

function Platform({ platform, context, period, t, f, lang }) {
  const id = platform.platform_id;
  const scale = (metric) => scaleOf(metric, platform.kind, context.demo);
  const state = useLoad(async () => {
    const path = `/v1/platforms/${encodeURIComponent(id)}`;
    const last = periodMonths(period).slice(-1)[0];
    const first = monthsBefore(last, TREND_MONTHS - 1);
    const months = context.months.filter((m) => m >= first && m <= last); // the months with sessions
    const [metrics, ...rest] = await Promise.all([
      getJson(`${path}/metrics`, { period }),
      ...DIMENSIONS.map(([by]) => getJson(`${path}/breakdown`, { period, by })),
      ...months.map((month) => getJson(`${path}/metrics`, { period: month })),
    ]);
    return { metrics, breakdowns: rest.slice(0, DIMENSIONS.length), trend: rest.slice(DIMENSIONS.length) };
  }, [id, period]);
  return html`<${Loaded} state=${state} t=${t}>${({ metrics, breakdowns, trend }) => html`
    <h2 data-testid="platform-name">${platform.name}</h2>
    <div class="figures">
      ${METRICS.filter((m) => m !== 'sessions').map((metric) => html`
        <${Figure} id=${metric} label=${t(metric)} value=${f.metric(metric, scaled(metrics[metric], scale(metric)))}
          sub=${metric === 'mau_peak' ? t('peak_in', { month: f.month(metrics.mau_peak_month) })
            : CHANGE_METRICS.includes(metric) ? `${t('yoy')}: ${f.change(metrics.yoy[metric])} · ${t('prev')}: ${f.change(metrics.prev[metric])}` : ''} />`)}
    </div>
    <${Table} id="changes" title=${t('figures')} t=${t} filename=${`${id}-${period}-figures`} rows=${METRICS} columns=${[
      { label: t('metric'), value: (m) => t(m) },
      { id: 'value', label: t('value'), value: (m) => scaled(metrics[m], scale(m)), show: (m) => f.metric(m, scaled(metrics[m], scale(m))), num: true },
      { id: 'yoy', label: t('yoy'), value: (m) => (metrics.yoy[m] ?? null), show: (m) => (m in metrics.yoy ? f.change(metrics.yoy[m]) : ''), num: true },
      { id: 'prev', label: t('prev'), value: (m) => (metrics.prev[m] ?? null), show: (m) => (m in metrics.prev ? f.change(metrics.prev[m]) : ''), num: true },
    ]} />
    <h2>${t('trend')}</h2>
    <${ChartBox} id="trend" config=${{
      data: { labels: trend.map((m) => f.month(m.period)), datasets: [
        { type: 'bar', label: t('mau_avg'), data: trend.map((m) => m.mau_avg * scale('mau_avg')), backgroundColor: ORIGIN_COLORS.vn, yAxisID: 'users' },
        { type: 'line', label: t('minutes_per_user_day'), data: trend.map((m) => m.minutes_per_user_day), borderColor: ORIGIN_COLORS.foreign, yAxisID: 'rates' },
        { type: 'line', label: t('mb_per_user_month'), data: trend.map((m) => m.mb_per_user_month), borderColor: '#e0a800', yAxisID: 'rates' },
      ] },
      options: { scales: { users: { position: 'left', beginAtZero: true }, rates: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } } } } }} />
    <${Table} id="trend" t=${t} filename=${`${id}-trend`} rows=${trend} columns=${[
      { label: t('month_col'), value: (m) => m.period, show: (m) => f.month(m.period) },
      { id: 'mau', label: t('mau_avg'), value: (m) => m.mau_avg * scale('mau_avg'), show: (m) => f.count(m.mau_avg * scale('mau_avg')), num: true },
      { label: t('minutes_per_user_day'), value: (m) => m.minutes_per_user_day, show: (m) => f.decimal(m.minutes_per_user_day), num: true },
      { label: t('mb_per_user_month'), value: (m) => m.mb_per_user_month, show: (m) => f.mb(m.mb_per_user_month), num: true },
      { label: t('installs'), value: (m) => m.installs * scale('installs'), show: (m) => f.count(m.installs * scale('installs')), num: true },
    ]} />
    <h2>${t('breakdowns')}</h2>
    <div class="grid three">
      ${DIMENSIONS.map(([by, title], i) => html`
        <${Table} id=${`breakdown-${by}`} title=${t(title)} t=${t} filename=${`${id}-${period}-${by}`} rows=${breakdowns[i].items}
          columns=${[
            { id: 'key', label: t(by), value: (item) => item.key, show: (item) => keyName(by, item.key, context, t, lang) },
            { id: 'mau', label: t('mau_avg'), value: (item) => scaled(item.mau_avg, scale('mau_avg')),
              show: (item) => (item.suppressed ? html`<span class="suppressed" title=${t('suppressed_help')}>${t('suppressed')}</span>`
                : f.count(item.mau_avg * scale('mau_avg'))), num: true },
            { id: 'share', label: t('share'), value: (item) => item.share, show: (item) => (item.suppressed ? '' : f.percent(item.share)), num: true },
            { label: t('suppressed'), value: (item) => item.suppressed, csvOnly: true },
          ]} />`)}
    </div>`}</${Loaded}>`;
}

function monthsBefore(month, count) {
  const [year, number] = month.split('-').map(Number);
  const index = year * 12 + number - 1 - count;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

function keyName(by, key, context, t, lang) {
  if (key === null) return t('unknown');
  if (by === 'province') return (context.provinces[key] || {}).name || key;
  if (by === 'os') return t(`os_${key}`);
  try {
    return new Intl.DisplayNames([lang], { type: 'region' }).of(key) || key;
  } catch {
    return key;
  }
}
