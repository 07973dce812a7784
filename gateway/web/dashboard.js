/* global document, location, URLSearchParams, clearTimeout */
/**
 * The dashboard page (sellers and operators): the whitelisted Prometheus charts from
 * /monitoring/query_range/{panel} and every team processor's topology from
 * /monitoring/topologies with its live rates, all refreshed every few seconds. It shares the
 * shop page's login (the same tab's sessionStorage) and signs in itself when there is none.
 */
import { Api, ApiError } from './api.js';
import { drawChart } from './charts.js';
import { byId, busy, fill, h } from './dom.js';
import { drawTopology, graphOf, ratesOf } from './topology-map.js';

const api = new Api();
const params = new URLSearchParams(location.search);
const REFRESH_MS = Math.max(1000, Number(params.get('refresh')) || 5000);
const notice = byId('notice');
const minutes = byId('minutes');
let panels;
let cards = new Map();
let timer;

api.onSignedOut = () => signIn('Your session has ended; please sign in again.');

const form = byId('signin-form');
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void busy(form, form.querySelector('[role="alert"]'), async () => {
    await api.signIn(form.elements.email.value.trim(), form.elements.password.value);
    form.hidden = true;
    await start();
  });
});
minutes.addEventListener('change', () => { void refresh(); });

function signIn(message) {
  clearTimeout(timer);
  byId('dashboard').hidden = true;
  form.hidden = false;
  say(message);
}

function say(message) {
  notice.hidden = !message;
  notice.textContent = message ?? '';
}

/** A processor's application id ends with its team name: order-processor, <prefix>app-order… */
function matcher(team) {
  const pattern = new RegExp(`(^|[-._])${team}(-processor)?$`);
  return (application) => pattern.test(application);
}

async function start() {
  try {
    panels = await api.get('/monitoring/panels');
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) { say('The dashboard is for sellers and operators.'); return; }
    if (e instanceof ApiError && e.status === 401) { signIn(); return; }
    say(`Could not load the dashboard: ${e.message}`);
    return;
  }
  cards = new Map(panels.map((p) => [p.id, h('article', { class: 'panel chart', dataset: { testid: `chart-${p.id}`, points: 0 } },
    h('h3', {}, p.title, h('span', { class: 'muted' }, p.unit)),
    document.createElementNS('http://www.w3.org/2000/svg', 'svg'),
    h('ul', { class: 'legend' }))]));
  for (const card of cards.values()) card.querySelector('svg').setAttribute('viewBox', '0 0 400 160');
  fill(byId('charts'), ...cards.values());
  byId('dashboard').hidden = false;
  await refresh();
}

async function refresh() {
  clearTimeout(timer);
  const problems = [];
  await Promise.all(panels.map(async (p) => {
    try {
      const data = await api.get(`/monitoring/query_range/${encodeURIComponent(p.id)}?minutes=${minutes.value}`);
      drawChart(cards.get(p.id), p, data.result);
    } catch (e) {
      problems.push(`${p.title}: ${e.message}`);
    }
  }));
  try {
    const { topologies, rates } = await api.get('/monitoring/topologies');
    fill(byId('topologies'), ...topologies.map((t) => {
      const graph = graphOf(t.description);
      return h('div', { dataset: { testid: `topology-${t.name}` } },
        h('h3', {}, `${t.name} processor`),
        h('div', { class: 'map' }, drawTopology(graph, ratesOf(graph, rates, matcher(t.name)))),
        h('details', {}, h('summary', {}, 'Mermaid (describe().toMermaid())'), h('pre', {}, t.mermaid)));
    }));
  } catch (e) {
    problems.push(`topologies: ${e.message}`);
  }
  say(problems.length ? problems.join(' · ') : undefined);
  const stamp = byId('refreshed');
  stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
  stamp.dataset.state = problems.length ? 'reconnecting' : 'online';
  timer = setTimeout(() => { void refresh(); }, REFRESH_MS);
}

if (api.signedIn) void start();
else signIn();
