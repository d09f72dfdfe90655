/**
 * The dashboard's browser script, as text (it is inlined into the page and allowed by a CSP
 * hash, so the page needs no second request and no build step). Plain ES2020 for any current
 * browser; it runs in the page, never in Node, so it must not reference anything outside itself.
 *
 * Every second it fetches `api/stats` (relative, so a reverse proxy may mount the page under a
 * path), writes the figures into the elements by id, and keeps each raw value in a
 * `data-value` attribute (what tests and scrapers read). A failed poll shows a status line and
 * keeps the last figures; polls never overlap (the next one is scheduled when one ends).
 */
export const DASHBOARD_SCRIPT = String.raw`
'use strict';
(() => {
  const POLL_MS = 1000;
  const TIMEOUT_MS = 2500;
  const $ = (id) => document.getElementById(id);
  const num = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const dec = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const bytes = (n) => {
    let i = 0;
    while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
    return (i === 0 ? num.format(n) : dec.format(n)) + ' ' + UNITS[i];
  };
  const percent = (r) => dec.format(r * 100) + '%';
  const duration = (s) => {
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    return m + 'm ' + Math.floor(s % 60) + 's';
  };

  const show = (id, value, text) => {
    const el = $(id);
    el.dataset.value = String(value);
    el.textContent = text;
  };

  const bars = $('shard-bars');
  const rows = $('shard-rows');
  const renderShards = (shards, balance) => {
    if (bars.children.length !== shards.length) {
      bars.replaceChildren(...shards.map(() => {
        const bar = document.createElement('div');
        bar.className = 'bar';
        bar.appendChild(document.createElement('div')).className = 'fill';
        return bar;
      }));
    }
    let max = 0, total = 0, min = Infinity;
    for (const s of shards) { max = Math.max(max, s.entries); min = Math.min(min, s.entries); total += s.entries; }
    shards.forEach((s, i) => {
      const bar = bars.children[i];
      bar.dataset.shard = String(s.shard);
      bar.dataset.entries = String(s.entries);
      bar.dataset.bytes = String(s.usedBytes);
      bar.title = 'shard ' + s.shard + ': ' + num.format(s.entries) + ' entries, ' + bytes(s.usedBytes);
      bar.firstChild.style.height = (max === 0 ? 0 : (s.entries / max) * 100) + '%';
    });
    const mean = shards.length === 0 ? 0 : total / shards.length;
    const summary = shards.length + ' shards: fewest ' + num.format(shards.length === 0 ? 0 : min) +
      ', most ' + num.format(max) + ', mean ' + dec.format(mean) + ' entries';
    bars.setAttribute('aria-label', 'Entries per shard across ' + summary);
    $('shard-summary').textContent = summary.charAt(0).toUpperCase() + summary.slice(1);
    show('balance', balance, balance.toFixed(2));
    if (rows.closest('details').open) {
      rows.replaceChildren(...shards.map((s) => {
        const tr = document.createElement('tr');
        for (const v of [String(s.shard), num.format(s.entries), bytes(s.usedBytes)]) tr.appendChild(document.createElement('td')).textContent = v;
        return tr;
      }));
    }
  };

  const renderMesh = (mesh) => {
    const section = $('mesh');
    section.hidden = mesh === null;
    if (mesh === null) return;
    show('mesh-node', mesh.nodeId, mesh.nodeId + ' (' + mesh.address + ')');
    show('mesh-balance', mesh.keysBalance, mesh.keysBalance.toFixed(2));
    show('mesh-forwarded', mesh.forwarded, num.format(mesh.forwarded));
    show('mesh-forward-errors', mesh.forwardErrors, num.format(mesh.forwardErrors));
    show('mesh-sent', mesh.rebalance.sent, num.format(mesh.rebalance.sent));
    show('mesh-received', mesh.rebalance.received, num.format(mesh.rebalance.received));
    show('mesh-pending', mesh.rebalance.pending, num.format(mesh.rebalance.pending));
    show('mesh-health', mesh.localHealth, String(mesh.localHealth));
    $('mesh-rows').replaceChildren(...mesh.members.map((m) => {
      const tr = document.createElement('tr');
      tr.dataset.node = m.nodeId;
      const cells = [m.nodeId + (m.self ? ' (this node)' : ''), m.address, m.state,
        m.keys === null ? '?' : num.format(m.keys), m.bytes === null ? '?' : bytes(m.bytes)];
      cells.forEach((v, i) => {
        const td = tr.appendChild(document.createElement('td'));
        td.textContent = v;
        if (i === 2) td.dataset.state = m.state;
      });
      return tr;
    }));
  };

  let last = null;
  rows.closest('details').addEventListener('toggle', () => { if (last !== null) renderShards(last.shards, last.balance); });

  const render = (st) => {
    last = st;
    show('hit-ratio', st.hitRatio, percent(st.hitRatio));
    show('hits', st.hits, num.format(st.hits));
    show('misses', st.misses, num.format(st.misses));
    show('ops', st.commands.opsPerSec, dec.format(st.commands.opsPerSec));
    show('commands-total', st.commands.total, num.format(st.commands.total));
    show('memory-used', st.memory.usedBytes, bytes(st.memory.usedBytes));
    show('memory-budget', st.memory.budgetBytes, bytes(st.memory.budgetBytes));
    const meter = $('memory-meter');
    meter.value = st.memory.budgetBytes === 0 ? 0 : st.memory.usedBytes / st.memory.budgetBytes;
    meter.textContent = percent(meter.value);
    show('memory-wasm', st.memory.wasmBytes, bytes(st.memory.wasmBytes));
    show('memory-saved', st.memory.compressionSavedBytes, bytes(st.memory.compressionSavedBytes));
    show('clients', st.clients, num.format(st.clients));
    show('entries', st.entries, num.format(st.entries));
    show('evictions', st.evictions, num.format(st.evictions));
    show('expirations', st.expirations, num.format(st.expirations));
    show('uptime', st.uptimeSeconds, duration(st.uptimeSeconds));
    $('version').textContent = st.version;
    renderShards(st.shards, st.balance);
    renderMesh(st.mesh ?? null);
    const status = $('status');
    status.dataset.state = 'live';
    status.textContent = 'Live · updated ' + new Date(st.timestamp).toLocaleTimeString();
  };

  const poll = async () => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    try {
      const res = await fetch('api/stats', { cache: 'no-store', signal: ctl.signal });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
    } catch (err) {
      const status = $('status');
      status.dataset.state = 'error';
      status.textContent = 'Cannot reach the server (' + (err && err.name === 'AbortError' ? 'timed out' : (err && err.message) || err) + '); retrying…';
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  };
  poll();
})();
`;
