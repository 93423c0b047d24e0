// Numbers for the chosen language, as the summaries write them ('74,7 triệu', '58,84%', '413,3 MB'), and the
// demo's scale factors: counts of users and visits are multiplied back (a website's users and visits by the visits
// scale, as the demo scales visitors with visits), ratios are not.

const LOCALES = { vi: 'vi-VN', en: 'en-US' };
const BIG = {
  vi: [[1e9, 'tỷ'], [1e6, 'triệu'], [1e3, 'nghìn']],
  en: [[1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand']],
};

export const USER_COUNTS = new Set(['mau_avg', 'mau_peak', 'dau_avg', 'installs', 'installs_total', 'mau_total']);
export const VISIT_COUNTS = new Set(['sessions', 'sessions_per_month']);
export const METRICS = ['mau_avg', 'mau_peak', 'dau_avg', 'stickiness', 'minutes_per_user_day', 'mb_per_user_month',
  'hours_per_user_month', 'sessions', 'sessions_per_month', 'installs', 'installs_total', 'penetration'];
export const CHANGE_METRICS = ['mau_avg', 'minutes_per_user_day', 'mb_per_user_month', 'sessions_per_month'];

/** What one stored unit of `metric` stands for: the demo's users or visits scale, or 1. `kind` is app or web. */
export function scaleOf(metric, kind, demo) {
  if (!demo || !(USER_COUNTS.has(metric) || VISIT_COUNTS.has(metric))) return 1;
  return kind === 'web' ? demo.visits : demo.users;
}

/** Formatting for one language. */
export function formatter(lang) {
  const locale = LOCALES[lang] || LOCALES.vi;
  const cache = new Map();
  const intl = (min, max) => {
    const id = `${min}:${max}`;
    if (!cache.has(id)) cache.set(id, new Intl.NumberFormat(locale, { minimumFractionDigits: min, maximumFractionDigits: max }));
    return cache.get(id);
  };
  const number = (value, digits = 0) => intl(0, digits).format(value);
  const fixed = (value, digits) => intl(digits, digits).format(value);
  const missing = (value) => value === null || value === undefined || Number.isNaN(value);

  const f = {
    lang, locale, number, fixed,
    /** A count of users or visits: '74,7 triệu', '30 nghìn', '610.512'. */
    count(value) {
      if (missing(value)) return '–';
      for (const [size, word] of BIG[lang] || BIG.vi) {
        if (size >= 1e6 && value >= size) return `${number(value / size, 2)} ${word}`;
        if (size === 1e3 && value >= 1e4 && Math.round(value) % 1000 === 0) return `${number(value / size)} ${word}`;
      }
      return number(value, value >= 100 ? 0 : 1);
    },
    integer: (value) => (missing(value) ? '–' : number(value)),
    percent: (value, digits = 2) => (missing(value) ? '–' : `${fixed(value * 100, digits)}%`),
    change(value) {
      if (missing(value)) return '–';
      const size = Math.abs(value);
      return `${value >= 0 ? '+' : '-'}${number(size * 100, size >= 0.1 ? 0 : 1)}%`;
    },
    /** A difference with its sign: '+3', '-1', '0'. */
    signed: (value) => (missing(value) ? '–' : `${value > 0 ? '+' : ''}${number(value)}`),
    /** A share with its sign and two decimals: '+25,00%', '-16,67%'. */
    signedPercent: (value) => (missing(value) ? '–' : `${value > 0 ? '+' : ''}${fixed(value * 100, 2)}%`),
    decimal: (value, digits = 1) => (missing(value) ? '–' : number(value, digits)),
    mb: (value) => (missing(value) ? '–' : `${number(value, 1)} MB`),
    month(label) {
      const [year, month] = label.split('-').map(Number);
      return new Intl.DateTimeFormat(locale, { month: 'short', year: 'numeric', timeZone: 'UTC' })
        .format(new Date(Date.UTC(year, month - 1, 1)));
    },
    /** A calendar day (YYYY-MM-DD): '05/03/2022' in Vietnamese, '03/05/2022' in English. */
    day(iso) {
      const [year, month, day] = iso.split('-').map(Number);
      return new Intl.DateTimeFormat(locale, { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC' })
        .format(new Date(Date.UTC(year, month - 1, day)));
    },
    datetime: (iso) => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'Asia/Ho_Chi_Minh' })
      .format(new Date(iso)),
    /** A value of `metric` as shown (already multiplied by its scale). */
    metric(metric, value) {
      switch (metric) {
        case 'stickiness': case 'penetration': case 'share': return f.percent(value);
        case 'minutes_per_user_day': case 'hours_per_user_month': case 'ratio': return f.decimal(value, metric === 'minutes_per_user_day' ? 1 : 2);
        case 'mb_per_user_month': return f.mb(value);
        case 'rank': case 'platforms_active': return f.integer(value);
        default: return f.count(value);
      }
    },
  };
  return f;
}

/** `value` times `factor`, keeping null as null. */
export function scaled(value, factor) {
  return value === null || value === undefined ? value : value * factor;
}
