/**
 * The console's HTML, rendered on the server from the same data as the JSON
 * API: status, groups, the first page of nodes and of skipped documents.
 * Every value is escaped; no credential is ever read here. The script (`script.ts`) takes over from there.
 */
import type { MirrorStatus } from '../mirror/mirror.js';
import type { NodePage } from '../explain/nodes.js';
import type { InvalidDocument } from '../registry/index.js';

/** What one page shows. */
export interface ConsoleData {
  readonly revision: number;
  readonly status: MirrorStatus;
  readonly groups: readonly { readonly name: string; readonly nodes: number; readonly exporterTypes: readonly string[] }[];
  readonly nodes: NodePage;
  readonly invalid: { readonly total: number; readonly documents: readonly InvalidDocument[] };
  readonly targets: number;
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s ago`;
}

function statusRows(d: ConsoleData): string {
  const s = d.status;
  const reload = s.lastReload === undefined ? 'none yet' : `${s.lastReload.reason} at revision ${s.lastReload.revision}, ${new Date(s.lastReload.at).toISOString()}`;
  const rows: [string, string, string][] = [
    ['etcd', 'status-etcd', s.connected ? 'connected' : `not connected${s.lastError === undefined ? '' : `: ${s.lastError}`}`],
    ['served revision', 'status-revision', String(d.revision)],
    ['last contact with etcd', 'status-staleness', seconds(s.lastContactAgeMs)],
    ['last reload', 'status-reload', reload],
    ['targets', 'status-targets', String(d.targets)],
    ['live updates', 'status-live', 'connecting…'],
  ];
  return rows.map(([k, id, v]) => `<tr><th>${escapeHtml(k)}</th><td id="${id}">${escapeHtml(v)}</td></tr>`).join('');
}

/** Groups listed on the page; the rest are one search away. */
export const MAX_GROUP_ROWS = 200;

function groupRows(d: ConsoleData): string {
  return d.groups.slice(0, MAX_GROUP_ROWS).map((g) => `<tr data-group="${escapeHtml(g.name)}"><td><a href="#" class="group-link">${escapeHtml(g.name)}</a></td><td>${g.nodes}</td><td>${escapeHtml(g.exporterTypes.join(', '))}</td></tr>`).join('');
}

/** One row of the nodes table; the script builds the same rows with `textContent`. */
function nodeRows(page: NodePage): string {
  return page.nodes.map((n) => `<tr data-group="${escapeHtml(n.group)}" data-node="${escapeHtml(n.node)}"><td>${escapeHtml(n.group)}</td><td><a href="#" class="node-link">${escapeHtml(n.id)}</a></td><td>${escapeHtml(n.exporter_type)}</td><td>${escapeHtml(n.address)}</td><td>${escapeHtml(n.status)}</td></tr>`).join('');
}

function invalidRows(d: ConsoleData): string {
  return d.invalid.documents.map((i) => `<tr><td><code>${escapeHtml(i.key)}</code></td><td>${escapeHtml(i.reason)}</td><td>${escapeHtml(i.detail)}</td></tr>`).join('');
}

function pager(page: NodePage): string {
  const pages = Math.max(1, Math.ceil(page.total / page.page_size));
  return `page ${page.page} of ${pages} (${page.total} nodes)`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}form input{width:10em;margin-right:.5em}#explain pre{background:#f7f7f7;padding:.5em;max-width:60em;overflow:auto}
.dropped{color:#a00}.renamed{color:#a60}.overridden{color:#666}.kept{color:#070}.layout{display:flex;gap:2em;flex-wrap:wrap}`;

/** Seconds the waiting page waits before it asks again. */
export const WAITING_REFRESH_SECONDS = 2;

/**
 * The page before the first load from etcd: a browser asked for the
 * console, so it gets HTML saying what it waits for (and why etcd is not
 * answering, when known), reloading itself until the console is there.
 */
export function renderWaiting(status: MirrorStatus): string {
  const etcd = status.connected ? 'connected, loading the registry' : `not connected${status.lastError === undefined ? '' : `: ${status.lastError}`}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-http-sd: waiting for etcd</title>
<meta http-equiv="refresh" content="${WAITING_REFRESH_SECONDS}"><meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><h1>etcd-http-sd</h1>
<p id="waiting">Waiting for the first load of the registry from etcd; this page reloads every ${WAITING_REFRESH_SECONDS} s.</p>
<table id="status"><tbody><tr><th>etcd</th><td id="status-etcd">${escapeHtml(etcd)}</td></tr>
<tr><th>last contact with etcd</th><td id="status-staleness">${escapeHtml(seconds(status.lastContactAgeMs))}</td></tr></tbody></table>
</body></html>
`;
}

/** The whole page. */
export function renderConsole(d: ConsoleData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-http-sd</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body data-revision="${d.revision}" data-page-size="${d.nodes.page_size}" data-max-groups="${MAX_GROUP_ROWS}">
<h1>etcd-http-sd</h1>
<div class="layout"><section><h2>Status</h2><table id="status"><tbody>${statusRows(d)}</tbody></table></section>
<section><h2>Groups</h2><table id="groups"><thead><tr><th>group</th><th>nodes</th><th>exporter types</th></tr></thead><tbody>${groupRows(d)}</tbody></table><p id="groups-more">${d.groups.length > MAX_GROUP_ROWS ? `${MAX_GROUP_ROWS} of ${d.groups.length} groups shown; search by group for the others` : ''}</p></section></div>
<h2>Nodes</h2>
<form id="search"><input name="q" placeholder="any field" aria-label="search any field"><input name="group" placeholder="group" aria-label="group">
<input name="id" placeholder="node id" aria-label="node id"><input name="exporter_type" placeholder="exporter type" aria-label="exporter type">
<input name="address" placeholder="address" aria-label="address"><button type="submit">Search</button></form>
<table id="nodes"><thead><tr><th>group</th><th>id</th><th>exporter type</th><th>address</th><th>status</th></tr></thead><tbody>${nodeRows(d.nodes)}</tbody></table>
<p><button id="prev" type="button">previous</button> <span id="pager">${escapeHtml(pager(d.nodes))}</span> <button id="next" type="button">next</button></p>
<section id="explain" hidden><h2>Explanation: <span id="explain-title"></span></h2><div id="explain-body"></div></section>
<h2>Skipped documents (<span id="invalid-count">${d.invalid.total}</span>)</h2>
<table id="invalid"><thead><tr><th>key</th><th>reason</th><th>detail</th></tr></thead><tbody>${invalidRows(d)}</tbody></table>
<script src="console.js"></script>
</body></html>
`;
}
