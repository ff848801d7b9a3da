// GET /status: the page an admin opens on the GoCD server to see what the bridge is doing. Every value is
// escaped (image names and filters come from GoCD's configuration, addresses and filters from the credentials
// file); no password, token or key is ever in it.

import type { CredentialsFileStatus } from '../credentials';
import type { MaterialActivity } from './activity';

export interface StatusPageInfo {
  version: string;
  startedAtMs: number;
  nowMs: number;
  windowMs: number;
  materials: MaterialActivity[];
  /** The credentials file's entries, when one is configured: what GoCD and Drone are served from. */
  credentials?: CredentialsFileStatus;
  /** Sections of services that have one (the build-status registry), as HTML, after the tables above. */
  sections?: string[];
}

export function renderStatusPage(info: StatusPageInfo): string {
  const failing = info.materials.filter((m) => 'error' in m.last).length;
  const rows = info.materials.map((m) => renderRow(m, info.nowMs)).join('\n');
  const empty = `<tr><td colspan="7" class="empty">No package was polled in the last ${Math.round(info.windowMs / 3_600_000)} h.</td></tr>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>gocd-registry-bridge status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 1.5rem 0 .25rem; }
  .summary { color: #555; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f3f4f6; font-weight: 600; }
  code { font: 12px ui-monospace, monospace; overflow-wrap: break-word; }
  .ok { color: #176b2c; }
  .error { color: #b42318; }
  .empty { color: #777; font-style: italic; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>gocd-registry-bridge ${escape(info.version)}</h1>
<p class="summary">${info.materials.length} package(s) polled in the last ${Math.round(info.windowMs / 3_600_000)} h;
<span class="${failing > 0 ? 'error' : 'ok'}">${failing} failing</span>.
Up since ${escape(new Date(info.startedAtMs).toISOString())}. Metrics: <a href="metrics">/metrics</a>.</p>
<table>
<thead><tr><th>Image</th><th>Tag filter</th><th>Exclude</th><th>Order</th><th>Last result</th><th>Last poll</th><th>Polls</th></tr></thead>
<tbody>
${rows || empty}
</tbody>
</table>
${info.credentials ? renderCredentials(info.credentials) : ''}
${(info.sections ?? []).join('\n')}
</body>
</html>
`;
}

function renderRow(m: MaterialActivity, nowMs: number): string {
  const result =
    'error' in m.last
      ? `<span class="error">${escape(m.last.error)}</span>`
      : `<span class="ok">${escape(m.last.tag)}</span><br><code class="muted" title="${escape(m.last.digest)}">${escape(shortDigest(m.last.digest))}</code>`;
  const failures = m.failures > 0 ? ` <span class="error">(${m.failures} failed)</span>` : '';
  return `<tr><td><code>${escape(`${m.registry}/${m.image}`)}</code></td><td><code>${escape(m.filter) || '<span class="muted">any</span>'}</code></td>` +
    `<td><code>${escape(m.exclude)}</code></td><td>${escape(m.order)}</td><td>${result}</td>` +
    `<td>${escape(new Date(m.lastPollAtMs).toISOString())}<br><span class="muted">${ago(nowMs - m.lastPollAtMs)}</span></td><td>${m.polls}${failures}</td></tr>`;
}

/** Where each entry's secret comes from and who gets it; the secrets themselves never reach CredentialsFileStatus. */
function renderCredentials(file: CredentialsFileStatus): string {
  const reload = file.lastReloadAt ? `loaded ${escape(file.lastReloadAt)}` : 'not loaded';
  const problem = file.lastError
    ? `<p class="error">The last edit was not loaded (${escape(file.lastError.at)}): ${escape(file.lastError.message)}. Fix: ${escape(file.lastError.fix)}. The entries below stay in use.</p>`
    : '';
  const rows = file.entries.map((entry) => {
    const filters = Object.entries(entry.filters)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${escape(key)}: <code>${escape(Array.isArray(value) ? value.join(', ') : String(value))}</code>`);
    return `<tr><td><code>${escape(entry.address)}</code></td><td>${entry.username === undefined ? '<span class="muted">none</span>' : escape(entry.username)}</td>` +
      `<td>${escape(entry.credentials)}</td><td>${filters.join('<br>') || '<span class="muted">every Drone build</span>'}</td></tr>`;
  });
  const empty = '<tr><td colspan="4" class="empty">The file lists no registry.</td></tr>';
  return `<h2>Credentials file</h2>
<p class="summary"><code>${escape(file.file)}</code>, ${reload}; ${file.entries.length} entr${file.entries.length === 1 ? 'y' : 'ies'}.</p>
${problem}
<table>
<thead><tr><th>Address</th><th>Username</th><th>Secret from</th><th>Drone filters</th></tr></thead>
<tbody>
${rows.join('\n') || empty}
</tbody>
</table>`;
}

/** sha256:3861a2757f54… — enough to tell images apart; the full digest is the cell's tooltip. */
function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return hex.length > 12 ? `${algorithm}:${hex.slice(0, 12)}…` : digest;
}

function ago(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch] as string);
}
