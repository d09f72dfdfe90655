/**
 * The dashboard: one self-contained HTML page (inline CSS and script, no external assets: the
 * sidecar usually runs where there is no network). Served at `GET /` by http.ts with
 * `DASHBOARD_CSP`, which allows exactly this page's style and script by their SHA-256 hashes
 * and lets the script talk to its own origin only.
 */
import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './script.js';

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --fg: #16181d; --muted: #50596a; --line: #d5dae2;
  --accent: #1f5fbf; --ok: #1d7a3a; --warn: #a15c00; --bad: #b3261e;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #121418; --card: #1b1e24; --fg: #eceff4; --muted: #a9b1bf; --line: #2e333d; --accent: #7fb0ff; --ok: #6fd08c; --warn: #f0b45c; --bad: #ff8a80; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header, main { max-width: 72rem; margin: 0 auto; padding: 0 1.25rem; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1rem; padding-top: 1.25rem; }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1rem; font-weight: 600; margin: 0 0 .75rem; color: var(--muted); }
.status { color: var(--muted); }
.status[data-state="error"] { color: var(--bad); font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 1rem; margin: 1.25rem 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .6rem; padding: 1rem 1.1rem; }
.card dl { margin: 0; }
.card dt { color: var(--muted); font-size: .9rem; }
.card dd { margin: .1rem 0 0; font-size: 2rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: .9rem; margin-top: .35rem; font-variant-numeric: tabular-nums; }
meter { width: 100%; height: .9rem; margin-top: .5rem; }
.wide { grid-column: 1 / -1; }
.bars { display: flex; align-items: flex-end; gap: 2px; height: 10rem; border-bottom: 1px solid var(--line); }
.bar { flex: 1 1 0; min-width: 1px; height: 100%; display: flex; align-items: flex-end; }
.fill { width: 100%; background: var(--accent); border-radius: 2px 2px 0 0; min-height: 1px; transition: height .3s; }
@media (prefers-reduced-motion: reduce) { .fill { transition: none; } }
details { margin-top: .75rem; }
summary { cursor: pointer; color: var(--accent); }
table { border-collapse: collapse; margin-top: .5rem; font-variant-numeric: tabular-nums; }
th, td { padding: .2rem .8rem; text-align: right; border-bottom: 1px solid var(--line); }
.sub span, footer span { white-space: nowrap; }
footer { max-width: 72rem; margin: 0 auto 2rem; padding: 0 1.25rem; color: var(--muted); font-size: .85rem; }
a { color: var(--accent); }
td[data-state="suspect"] { color: var(--warn); font-weight: 600; }
td[data-state="dead"] { color: var(--bad); font-weight: 600; }
td[data-state="left"] { color: var(--muted); }
`;

const metric = (id: string, label: string, sub = '') =>
  `<div class="card"><dl><dt id="${id}-label">${label}</dt><dd id="${id}" aria-labelledby="${id}-label">–</dd></dl>${sub}</div>`;

/** The page's HTML. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshcache dashboard</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>meshcache</h1>
  <span class="status" id="status" role="status" data-state="loading">Connecting…</span>
</header>
<main>
  <section class="grid" aria-label="Key figures">
    ${metric('hit-ratio', 'Hit ratio', '<p class="sub"><span id="hits">–</span> hits · <span id="misses">–</span> misses</p>')}
    ${metric('ops', 'Commands per second', '<p class="sub"><span id="commands-total">–</span> since start</p>')}
    <div class="card">
      <dl><dt id="memory-label">Memory used</dt><dd id="memory-used" aria-labelledby="memory-label">–</dd></dl>
      <p class="sub">of <span id="memory-budget">–</span> budget</p>
      <meter id="memory-meter" min="0" max="1" low="0.8" high="0.95" optimum="0" value="0" aria-label="Memory used as a share of the budget">0%</meter>
      <p class="sub">WebAssembly memory <span id="memory-wasm">–</span><br>saved by compression <span id="memory-saved">–</span></p>
    </div>
    ${metric('clients', 'Connected clients')}
    ${metric('entries', 'Entries')}
    ${metric('evictions', 'Evictions', '<p class="sub"><span id="expirations">–</span> expirations</p>')}
    <section class="card wide" aria-labelledby="shards-title">
      <h2 id="shards-title">Entries per shard · balance <span id="balance" title="largest shard divided by the mean; 1 is perfectly even">–</span></h2>
      <div class="bars" id="shard-bars" role="img" aria-label="Entries per shard"></div>
      <p class="sub" id="shard-summary"></p>
      <details>
        <summary>Per-shard table</summary>
        <table><thead><tr><th scope="col">Shard</th><th scope="col">Entries</th><th scope="col">Memory used</th></tr></thead><tbody id="shard-rows"></tbody></table>
      </details>
    </section>
    <section class="card wide" id="mesh" hidden aria-labelledby="mesh-title">
      <h2 id="mesh-title">Mesh · <span id="mesh-node">–</span> · balance <span id="mesh-balance" title="keys on the fullest node divided by the mean; 1 is even">–</span></h2>
      <p class="sub"><span id="mesh-forwarded">–</span> forwarded · <span id="mesh-forward-errors">–</span> failed · rebalance <span id="mesh-sent">–</span> sent, <span id="mesh-received">–</span> received, <span id="mesh-pending">–</span> pending · local health <span id="mesh-health">–</span></p>
      <table><thead><tr><th scope="col">Node</th><th scope="col">Address</th><th scope="col">State</th><th scope="col">Keys</th><th scope="col">Memory</th></tr></thead><tbody id="mesh-rows"></tbody></table>
    </section>
  </section>
</main>
<footer>meshcache <span id="version"></span> · up <span id="uptime">–</span> · <a href="metrics">Prometheus metrics</a> · <a href="api/stats">JSON</a></footer>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/**
 * Content-Security-Policy for the page: nothing loads except its own inline style and script
 * (by hash), and the script may only fetch from the same origin.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(DASHBOARD_SCRIPT)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
