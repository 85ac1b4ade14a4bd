/**
 * Generated Prometheus `scrape_configs`: one job per group with
 * http_sd pointing at this server and the group's basic auth. Pure.
 */
import { buildScrapeConfigs, type ScrapeGroup } from './build.js';
import type { ScrapeConfigOptions } from './options.js';
import { toPrometheusYaml } from './yaml.js';

export { buildScrapeConfigs, passwordFiles, type ScrapeGroup } from './build.js';
export { configPathProblem, jobPrefixProblem, normalizeExternalUrl, type ScrapeConfigDefaults } from './options.js';
export { PROMETHEUS_YAML_OPTIONS } from './yaml.js';

/** The `scrape_configs:` document for `groups` as YAML text. Secret when a group has a password and no `passwordDir` is set. */
export function renderScrapeConfigs(groups: readonly ScrapeGroup[], opts: ScrapeConfigOptions): string {
  return toPrometheusYaml(buildScrapeConfigs(groups, opts), opts.comment);
}
