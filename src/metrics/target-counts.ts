/**
 * `etcd_http_sd_targets{group,exporter_type}` kept in step with the served
 * content by difference. Resetting the gauge and setting every series again
 * at each scrape made, at 10,000 groups, some 30,000 series objects per
 * scrape that lived until the next one: old-generation garbage, about 10 MiB
 * of RSS per scrape at 1,000,000 nodes until V8 next collected the whole
 * heap. Views are immutable and an unchanged group keeps its view object
 * from one snapshot to the next, so only groups whose view changed are
 * written, and a scrape of an unchanged registry writes nothing.
 */
import type { GroupView } from '../registry/index.js';

/** Labels of one series. */
export interface TargetLabels {
  readonly group: string;
  readonly exporter_type: string;
}

/** The gauge's part this module writes (prom-client's `Gauge` has it). */
export interface TargetSeriesSink {
  set(labels: TargetLabels, value: number): void;
  remove(labels: TargetLabels): void;
}

/** The series a view reports: one per exporter type, or `exporter_type=""` at 0 when it has no nodes. */
function seriesOf(view: GroupView): ReadonlyMap<string, number> {
  // A group without nodes still reports 0, so "lost its targets" alerts see the drop.
  return view.exporterTypeCounts.size === 0 ? NO_NODES : view.exporterTypeCounts;
}

const NO_NODES: ReadonlyMap<string, number> = new Map([['', 0]]);

/** Remembers what the gauge holds and writes only what changed. */
export class TargetCounts {
  /** The groups last written, by name, and the list they came from. */
  private written = new Map<string, GroupView>();
  private from: readonly GroupView[] | undefined;

  constructor(private readonly sink: TargetSeriesSink) {}

  /** Brings the gauge to `groups` (all groups, as the content lists them). */
  update(groups: readonly GroupView[]): void {
    if (groups === this.from) return;
    const next = new Map<string, GroupView>();
    for (const view of groups) {
      next.set(view.name, view);
      const before = this.written.get(view.name);
      if (before !== view) this.write(view.name, before === undefined ? undefined : seriesOf(before), seriesOf(view));
    }
    for (const [name, before] of this.written) if (!next.has(name)) this.write(name, seriesOf(before), undefined);
    this.written = next;
    this.from = groups;
  }

  private write(group: string, before: ReadonlyMap<string, number> | undefined, after: ReadonlyMap<string, number> | undefined): void {
    if (before !== undefined) for (const type of before.keys()) if (after?.has(type) !== true) this.sink.remove({ group, exporter_type: type });
    if (after !== undefined) for (const [type, n] of after) if (before?.get(type) !== n) this.sink.set({ group, exporter_type: type }, n);
  }
}
