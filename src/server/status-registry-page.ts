// The status page's section for the build-status registry: each waiting and recently changed package version, its
// repos with their results, the verdict, the action's state and its last error. Names come from API clients and
// are escaped; handlers name secret files and variables, which the page leaves out.

import type { PackageView, StatusRegistry } from '../status-registry';
import { escape as escapeHtml } from './status-page';

// Enough to see what is in flight and what just finished, small enough to render on every refresh.
const RECENT_LIMIT = 50;

export async function renderStatusRegistrySection(registry: StatusRegistry): Promise<string> {
  const waiting = await registry.list('waiting', RECENT_LIMIT);
  const recent = (await registry.list(undefined, RECENT_LIMIT)).filter((view) => view.verdict !== 'waiting');
  const rows = [...waiting, ...recent].map(renderRow).join('\n');
  const empty = '<tr><td colspan="5" class="empty">No package version is registered.</td></tr>';
  return `<h2>Build-status registry</h2>
<p class="summary">${waiting.length} waiting; the ${recent.length} most recently finished below them.</p>
<table>
<thead><tr><th>Package version</th><th>Repositories</th><th>Verdict</th><th>Action</th><th>Last error</th></tr></thead>
<tbody>
${rows || empty}
</tbody>
</table>`;
}

function renderRow(view: PackageView): string {
  const builds = new Map(view.builds.map((build) => [build.repo, build]));
  const repos = [...new Set([...view.repositories, ...builds.keys()])].map((repo) => {
    const build = builds.get(repo);
    const result = build ? `<span class="${build.status === 'success' ? 'ok' : 'error'}">${escapeHtml(build.reportedAs)}</span> #${build.number}` : '<span class="muted">waiting</span>';
    return `<code>${escapeHtml(repo)}</code> ${result}`;
  });
  const { action } = view;
  const actionText = action.state === 'none' ? '<span class="muted">none</span>' : `${escapeHtml(action.state)} (${escapeHtml(action.verdict ?? '')}${action.hasNoHandler ? ', no handler' : `, ${action.attempts} call(s)`})`;
  const verdictClass = view.verdict === 'success' ? 'ok' : view.verdict === 'failure' ? 'error' : 'muted';
  return `<tr><td><code>${escapeHtml(`${view.package}@${view.version}`)}</code><br><span class="muted">wave ${view.wave}</span></td><td>${repos.join('<br>')}</td>` +
    `<td class="${verdictClass}">${escapeHtml(view.verdict)}</td><td>${actionText}</td><td class="error">${escapeHtml(action.lastError ?? '')}</td></tr>`;
}
