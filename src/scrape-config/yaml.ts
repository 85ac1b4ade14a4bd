/**
 * YAML text of a Prometheus config. Prometheus reads YAML 1.1 (go-yaml v2)
 * strictly, so strings that YAML 1.1 would read as something else (`on`,
 * `no`, `y`, `1:20`, `0b1`, `null`, ...) must be quoted: stringifying with
 * the 1.1 schema does that. No anchors or aliases, no folded lines
 * (yaml 2 writes both by default).
 */
import { Document } from 'yaml';

/** Options that make the yaml library write what Prometheus reads back unchanged. */
export const PROMETHEUS_YAML_OPTIONS = Object.freeze({
  version: '1.1' as const,
  aliasDuplicateObjects: false,
  lineWidth: 0,
});

/** `value` as a YAML document, with `comment` (one or more lines) at the top. */
export function toPrometheusYaml(value: object, comment?: string): string {
  const doc = new Document(value, PROMETHEUS_YAML_OPTIONS);
  if (comment !== undefined && comment !== '') {
    doc.commentBefore = comment.split('\n').map((line) => ` ${line}`).join('\n');
  }
  return doc.toString(PROMETHEUS_YAML_OPTIONS);
}
