/**
 * What `file-sd` writes: the body `/v1/targets` would serve for the same
 * filter (the same view code), as Prometheus file_sd JSON, or YAML by file
 * extension; one file for the selection, or one per group. Pure.
 */
import type { TargetFilter, ViewCache } from '../http/rendered.js';
import type { Content } from '../registry/index.js';
import { toPrometheusYaml } from '../scrape-config/yaml.js';

/** Serialisation of a file. */
export type FileFormat = 'json' | 'yaml';

/** The format a file name asks for: YAML for `.yml`/`.yaml`, else JSON. */
export function formatOf(path: string): FileFormat {
  return /\.ya?ml$/i.test(path) ? 'yaml' : 'json';
}

/** The file text of a rendered `/v1/targets` body. */
export function fileText(body: Buffer, format: FileFormat): string {
  if (format === 'json') return `${body.toString('utf8')}\n`;
  const groups = JSON.parse(body.toString('utf8')) as object[];
  return groups.length === 0 ? '[]\n' : toPrometheusYaml(groups);
}

/**
 * The file name of a group in `--output-dir`: the group name, escaped so it
 * is one safe name (group names may hold `.` and `%`, never `/`).
 */
export function groupFileName(group: string, format: FileFormat): string {
  const safe = encodeURIComponent(group).replace(/^\./, '%2E');
  return `${safe}.${format === 'json' ? 'json' : 'yml'}`;
}

/** File name → text, for the selection. */
export function renderFiles(content: Content, cache: ViewCache, filter: TargetFilter, target: FileTarget): Map<string, string> {
  const files = new Map<string, string>();
  if (target.kind === 'file') {
    files.set(target.path, fileText(cache.view(content, filter).body, formatOf(target.path)));
    return files;
  }
  const names = filter.groups.length === 0 ? content.groups.map((g) => g.name) : filter.groups;
  for (const name of names) {
    if (content.group(name) === undefined) continue;
    const body = cache.view(content, { ...filter, groups: [name] }).body;
    files.set(`${target.dir}/${groupFileName(name, target.format)}`, fileText(body, target.format));
  }
  return files;
}

/** Where to write: one file, or one file per group in a directory. */
export type FileTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'dir'; readonly dir: string; readonly format: FileFormat };
