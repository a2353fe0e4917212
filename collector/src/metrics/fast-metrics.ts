import type { Metric, Registry } from "prom-client";

/**
 * Counters and histograms for the ingest hot path. prom-client hashes the label object on
 * every inc()/observe(), which costs microseconds per call; at tens of thousands of calls per
 * second that is a large share of the pipeline. These keep one slot per label-value tuple,
 * found by a string key the caller already has, and hand prom-client plain values only when
 * /metrics is scraped (they register as ordinary metrics of the registry).
 */

type Labels = Record<string, string>;

/** One series of a FastCounter. */
export interface CounterSlot {
  readonly labels: Labels;
  value: number;
}

/** One series of a FastHistogram: per-bucket counts (not cumulative), sum and count. */
export interface HistogramSlot {
  readonly labels: Labels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

abstract class FastMetric {
  readonly name: string;
  readonly help: string;
  readonly aggregator = "sum";
  readonly labelNames: readonly string[];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // The registry reads only name/help/get(); it accepts any object with that shape.
    registry.registerMetric(this as unknown as Metric);
  }

  protected labelsOf(values: readonly string[]): Labels {
    const labels: Labels = {};
    for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i] as string] = values[i] ?? "";
    return labels;
  }
}

export class FastCounter extends FastMetric {
  readonly type = "counter";
  readonly #slots = new Map<string, CounterSlot>();

  /** Adds `by` to the series named by `key` (a unique string for `values`). */
  inc(key: string, values: readonly string[], by = 1): void {
    const slot = this.#slots.get(key);
    if (slot) slot.value += by;
    else this.#slots.set(key, { labels: this.labelsOf(values), value: by });
  }

  /**
   * The series named by `key`, created at 0 when new: callers on a hot path keep it and add to
   * its `value` directly. A series exists (and is exported) from its first `slot()` call on.
   */
  slot(key: string, values: readonly string[]): CounterSlot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { labels: this.labelsOf(values), value: 0 };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.#slots.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class FastHistogram extends FastMetric {
  readonly type = "histogram";
  readonly #buckets: readonly number[];
  readonly #slots = new Map<string, HistogramSlot>();

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super(registry, name, help, labelNames);
    this.#buckets = [...buckets].sort((a, b) => a - b);
  }

  /** The series named by `key`, created empty when new (see FastCounter.slot). */
  slot(key: string, values: readonly string[]): HistogramSlot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { labels: this.labelsOf(values), counts: new Float64Array(this.#buckets.length), sum: 0, count: 0 };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  /** Records `value` in a series of this histogram. */
  observeSlot(slot: HistogramSlot, value: number): void {
    const b = this.#buckets;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    if (i < b.length) slot.counts[i] = (slot.counts[i] as number) + 1;
    slot.sum += value;
    slot.count++;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.#slots.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#buckets.length; i++) {
        cumulative += s.counts[i] as number;
        values.push({
          labels: { ...s.labels, le: String(this.#buckets[i]) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
