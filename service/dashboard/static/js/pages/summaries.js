// Summaries of a period (GET /v1/summaries/{period}/versions, .../versions/{n}): the versions, what changed in
// each, and every format opened or downloaded; fetched with the key's header, never with the key in a URL.

import { useState } from 'preact/hooks';
import { call, getJson, saveBlob } from '../api.js';
import { scaleOf } from '../format.js';
import { html, useLoad, Loaded, Table, ErrorBox } from '../ui.js';

const FORMATS = [['html', 'HTML'], ['xlsx', 'XLSX'], ['csv', 'CSV'], ['md', 'Markdown'], ['json', 'JSON']];
const PERCENT_FIGURES = new Set(['penetration', 'share_of_users', 'vn.share', 'foreign.share']);

export function SummariesPage({ context, period, t, f, lang }) {
  const [reloads, setReloads] = useState(0);
  const [chosen, setChosen] = useState(null);
  const [problem, setProblem] = useState(null);
  const state = useLoad(async () => {
    try {
      return (await getJson(`/v1/summaries/${period}/versions`)).items;
    } catch (error) {
      if (error.status === 404) return [];
      throw error;
    }
  }, [period, reloads]);
  const create = async () => {
    setProblem(null);
    try {
      const made = await (await call(`/v1/summaries/${period}`, { method: 'POST' })).json();
      setChosen(made.version);
      setReloads(reloads + 1);
    } catch (error) {
      setProblem(error);
    }
  };
  return html`
    ${context.me.role === 'admin' && html`<p><button type="button" data-testid="create-summary" onClick=${create}>${t('create_summary')}</button></p>`}
    ${problem && html`<${ErrorBox} error=${problem} t=${t} />`}
    <${Loaded} state=${state} t=${t}>${(versions) => {
      if (versions.length === 0) return html`<p class="note" data-testid="no-summary">${t('no_summary')}</p>`;
      const number = versions.some((v) => v.version === chosen) ? chosen : versions[versions.length - 1].version;
      return html`
        <${Table} id="versions" title=${t('versions')} t=${t} filename=${`summaries-${period}-versions`} rows=${[...versions].reverse()}
          columns=${[
            { id: 'version', label: t('version'), value: (v) => v.version, show: (v) => html`
              <a href="#/summaries" class=${v.version === number ? 'chosen' : ''} data-testid=${`version-${v.version}`}
                onClick=${(e) => { e.preventDefault(); setChosen(v.version); }}>${v.version}</a>`, num: true },
            { label: t('created'), value: (v) => v.created_at, show: (v) => f.datetime(v.created_at) },
            { label: t('trigger'), value: (v) => v.trigger, show: (v) => t(`trigger_${v.trigger}`) },
            { label: t('created_by'), value: (v) => v.created_by },
          ]} />
        <${Version} key=${`${period}/${number}`} period=${period} number=${number} context=${context} t=${t} f=${f} lang=${lang} />`;
    }}</${Loaded}>`;
}

function Version({ period, number, context, t, f, lang }) {
  const path = `/v1/summaries/${period}/versions/${number}`;
  const [shown, setShown] = useState(null); // {format, text}
  const [problem, setProblem] = useState(null);
  const state = useLoad(() => getJson(path, { format: 'json' }), [path]);
  const fetchFormat = async (format) => call(path, { params: { format, lang } });
  const open = async (format) => {
    setProblem(null);
    try {
      setShown({ format, text: await (await fetchFormat(format)).text() });
    } catch (error) { setProblem(error); }
  };
  const download = async (format) => {
    setProblem(null);
    try {
      saveBlob(await (await fetchFormat(format)).blob(), `vnmeter-${period}-v${number}-${lang}.${format}`);
    } catch (error) { setProblem(error); }
  };
  const openTab = () => {
    const url = URL.createObjectURL(new Blob([shown.text], { type: 'text/html;charset=utf-8' }));
    window.open(url, '_blank', 'noopener');
  };
  return html`
    <h2>${t('version')} ${number}</h2>
    <div class="formats" data-testid="formats">
      <strong>${t('formats')}:</strong>
      ${FORMATS.map(([format, name]) => html`
        <span class="format">
          ${name}
          ${format !== 'xlsx' && html`<button type="button" class="secondary" data-testid=${`open-${format}`} onClick=${() => open(format)}>${t('open')}</button>`}
          <button type="button" class="secondary" data-testid=${`download-${format}`} onClick=${() => download(format)}>${t('download')}</button>
        </span>`)}
    </div>
    ${problem && html`<${ErrorBox} error=${problem} t=${t} />`}
    ${shown && html`
      <div class="viewer" data-testid=${`viewer-${shown.format}`}>
        <div class="table-head">
          ${shown.format === 'html' && html`<button type="button" class="secondary" onClick=${openTab}>${t('open_tab')}</button>`}
          <button type="button" class="secondary" onClick=${() => setShown(null)}>${t('close')}</button>
        </div>
        ${shown.format === 'html' ? html`<iframe sandbox="" srcdoc=${shown.text} title="summary" data-testid="summary-frame"></iframe>`
          : html`<pre>${shown.text}</pre>`}
      </div>`}
    <${Loaded} state=${state} t=${t}>${(version) => Changes({ version, context, t, f, lang, period })}</${Loaded}>`;
}

function Changes({ version, context, t, f, lang, period }) {
  const { changes, figures } = version;
  const names = Object.fromEntries((figures.categories || []).flatMap((c) => c.platforms.map((p) => [p.platform, p])));
  const demo = figures.demo || null;
  const shownValue = (item, value) => {
    if (value === null || value === undefined) return '–';
    if (typeof value !== 'number') return String(value);
    const figure = item.figure;
    if (figure.startsWith('yoy.')) return f.change(value);
    if (PERCENT_FIGURES.has(figure)) return f.percent(value);
    if (figure === 'ratio_vn_to_foreign' || figure === 'hours_per_user_month') return f.decimal(value, 2);
    if (figure.endsWith('.total') || figure === 'mb_per_user_month') return f.mb(value);
    if (figure === 'minutes_per_user_day') return f.decimal(value, 1);
    if (figure === 'rank' || figure === 'platforms_active') return f.integer(value);
    const kind = (names[item.subject] || {}).kind || 'app';
    return f.count(value * scaleOf(figure === 'mau_total' ? 'mau_avg' : figure, kind, demo));
  };
  const subject = (item) => (names[item.subject] ? names[item.subject].name : item.subject);
  const against = changes.against_version;
  return html`
    <h3>${t('changes')}</h3>
    <p class="note" data-testid="changes-note">${against === null ? t('first_version')
      : changes.items.length === 0 ? t('no_changes', { n: against }) : ''}</p>
    ${changes.added.length > 0 && html`<p>${t('added')}: ${changes.added.join(', ')}</p>`}
    ${changes.removed.length > 0 && html`<p>${t('removed')}: ${changes.removed.join(', ')}</p>`}
    ${changes.items.length > 0 && html`
      <${Table} id="changes" t=${t} filename=${`summary-${period}-v${version.version}-changes`} rows=${changes.items} columns=${[
        { label: t('subject'), value: subject },
        { label: t('figure'), value: (i) => i.figure, show: (i) => figureName(i.figure, t) },
        { label: t('before'), value: (i) => i.before, show: (i) => shownValue(i, i.before), num: true },
        { label: t('after'), value: (i) => i.after, show: (i) => shownValue(i, i.after), num: true },
        { label: t('change'), value: (i) => i.relative, show: (i) => f.change(i.relative), num: true },
      ]} />`}`;
}

function figureName(figure, t) {
  if (figure.startsWith('yoy.')) return `${t(figure.slice(4))} (${t('yoy')})`;
  const [origin, part] = figure.split('.');
  if (part) return `${t(origin)}: ${t(part)}`;
  return t(figure);
}
