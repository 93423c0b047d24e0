// The dashboard: sign-in, the header (pages, period, language) and the page chosen by the URL's #fragment.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, session, call } from './api.js';
import { words, LANGS } from './i18n.js';
import { formatter } from './format.js';
import { html, ErrorBox, Loading, PeriodPicker, Select, parsePeriod } from './ui.js';
import { OverviewPage } from './pages/overview.js';
import { RankingsPage } from './pages/rankings.js';
import { OriginPage } from './pages/origin.js';
import { PlatformPage } from './pages/platform.js';
import { SummariesPage } from './pages/summaries.js';
import { QualityPage } from './pages/quality.js';
import { ReconciliationPage } from './pages/reconciliation.js';

const READERS = ['admin', 'analyst'];
const EVERY_ROLE = ['admin', 'analyst', 'vendor'];
const PAGES = [
  { id: 'overview', roles: READERS, page: OverviewPage },
  { id: 'rankings', roles: READERS, page: RankingsPage },
  { id: 'origin', roles: READERS, page: OriginPage },
  { id: 'platform', roles: EVERY_ROLE, page: PlatformPage },
  { id: 'summaries', roles: READERS, page: SummariesPage },
  { id: 'quality', roles: EVERY_ROLE, page: QualityPage },
  { id: 'reconciliation', roles: EVERY_ROLE, page: ReconciliationPage },
];

function currentRoute() {
  const [page, ...rest] = decodeURIComponent(location.hash.replace(/^#\/?/, '')).split('/');
  return { page, arg: rest.join('/') };
}

/** Everything the pages share, read once at sign-in: who the key is, the dataset, categories, platforms. */
async function loadContext(key) {
  const me = await (await call('/v1/me', { key })).json();
  const read = (path) => call(path, { key }).then((r) => r.json());
  const [dataset, categories, platforms, provinces] = await Promise.all(
    [read('/v1/dataset'), read('/v1/categories'), read('/v1/platforms'), read('/v1/provinces')]);
  const visible = platforms.items.filter((p) => me.role !== 'vendor' || p.vendor === me.vendor);
  return {
    me, demo: dataset.demo_scale, months: dataset.months,
    categories: Object.fromEntries(categories.items.map((c) => [c.id, c])),
    platforms: Object.fromEntries(visible.map((p) => [p.platform_id, p])),
    provinces: Object.fromEntries(provinces.items.map((p) => [p.code, p])),
  };
}

/** The latest quarter with figures, else the quarter before today's. */
function defaultPeriod(months) {
  if (months.length) {
    const [year, month] = months[months.length - 1].split('-').map(Number);
    return `${year}-Q${Math.floor((month - 1) / 3) + 1}`;
  }
  const now = new Date();
  const quarter = Math.floor(now.getMonth() / 3);
  return quarter === 0 ? `${now.getFullYear() - 1}-Q4` : `${now.getFullYear()}-Q${quarter}`;
}

function SignIn({ t, onSignedIn, failure }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(failure);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    try {
      const context = await loadContext(key.trim());
      session.save(key.trim());
      onSignedIn(context);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="sign-in" onSubmit=${submit} data-testid="sign-in">
      <h1>${t('app_title')}</h1>
      <label class="field">${t('key')}
        <input type="password" name="key" autocomplete="off" required value=${key} data-testid="key-input"
          onInput=${(e) => setKey(e.target.value)} />
      </label>
      <p class="note">${t('key_help')}</p>
      <button type="submit" disabled=${busy} data-testid="sign-in-button">${t('sign_in')}</button>
      ${error && html`<${ErrorBox} error=${error} t=${t} />`}
    </form>`;
}

function Header({ t, lang, setLang, context, period, setPeriod, route, signOut }) {
  const role = context.me.role;
  const years = new Set(context.months.map((m) => Number(m.slice(0, 4))));
  years.add(new Date().getFullYear());
  years.add(parsePeriod(period).year);
  return html`
    <header class="top">
      <div class="brand">vnmeter</div>
      <nav data-testid="nav">
        ${PAGES.filter((p) => p.roles.includes(role)).map((p) => html`
          <a href=${`#/${p.id}`} class=${route.page === p.id ? 'active' : ''} data-testid=${`nav-${p.id}`}>${t(p.id)}</a>`)}
        <a href="/docs" target="_blank" rel="noopener">${t('docs')}</a>
      </nav>
      <${PeriodPicker} period=${period} onChange=${setPeriod} years=${[...years].sort()} t=${t} />
      <${Select} id="lang" label=${t('language')} value=${lang} options=${LANGS.map((l) => [l, l === 'vi' ? 'Tiếng Việt' : 'English'])}
        onChange=${setLang} />
      <div class="account">
        <div class="who" data-testid="who">${t('signed_in_as')}: ${t(`role_${role}`)}${context.me.vendor ? ` (${context.me.vendor})` : ''}</div>
        <button type="button" class="secondary" onClick=${signOut} data-testid="sign-out">${t('sign_out')}</button>
      </div>
    </header>
    ${context.demo && html`<div class="banner" data-testid="demo-banner">${t('demo_banner', {
      users: formatter(lang).integer(context.demo.users), visits: formatter(lang).integer(context.demo.visits) })}</div>`}`;
}

function App() {
  const [lang, setLangState] = useState(localStorage.getItem('vnmeter.lang') || 'vi');
  const [context, setContext] = useState(null);
  const [starting, setStarting] = useState(Boolean(session.key()));
  const [failure, setFailure] = useState(null);
  const [period, setPeriodState] = useState(sessionStorage.getItem('vnmeter.period'));
  const [route, setRoute] = useState(currentRoute());
  const t = words(lang);
  const f = formatter(lang);
  window.Chart.defaults.locale = f.locale;

  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => { document.documentElement.lang = lang; document.title = t('app_title'); }, [lang]);
  useEffect(() => { // a reload of the page keeps the session
    if (!session.key()) return;
    loadContext(session.key()).then(signedIn, (error) => { session.clear(); setFailure(error); setStarting(false); });
  }, []);

  function signedIn(loaded) {
    setContext(loaded);
    setStarting(false);
    if (!period) setPeriod(defaultPeriod(loaded.months));
  }
  function setPeriod(label) {
    sessionStorage.setItem('vnmeter.period', label);
    setPeriodState(label);
  }
  function setLang(value) {
    localStorage.setItem('vnmeter.lang', value);
    setLangState(value);
  }
  function signOut() {
    session.clear();
    sessionStorage.removeItem('vnmeter.period');
    setContext(null);
    setPeriodState(null);
    location.hash = '';
  }

  if (starting) return html`<${Loading} t=${t} />`;
  if (!context) return html`<${SignIn} t=${t} failure=${failure} onSignedIn=${signedIn} />`;
  const allowed = PAGES.filter((p) => p.roles.includes(context.me.role));
  const chosen = allowed.find((p) => p.id === route.page) || allowed[0];
  const forbidden = route.page && !allowed.some((p) => p.id === route.page) && PAGES.some((p) => p.id === route.page);
  const Page = chosen.page;
  return html`
    <${Header} t=${t} lang=${lang} setLang=${setLang} context=${context} period=${period || defaultPeriod(context.months)}
      setPeriod=${setPeriod} route=${{ ...route, page: chosen.id }} signOut=${signOut} />
    <main data-testid=${`page-${chosen.id}`}>
      ${forbidden && html`<p class="error" role="alert" data-testid="forbidden">${t('forbidden_pages')}</p>`}
      <h1>${t(chosen.id)}</h1>
      <${Page} context=${context} period=${period || defaultPeriod(context.months)} t=${t} f=${f} lang=${lang}
        arg=${chosen.id === route.page ? route.arg : ''} />
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
