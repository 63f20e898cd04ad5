// Types for parse-prometheus-text-format 1.1 (it ships none): families with string values.
declare module 'parse-prometheus-text-format' {
  type Labels = Record<string, string>;
  type Sample = { value: string; labels?: Labels; timestamp_ms?: string };
  type Summary = { quantiles?: Record<string, string>; buckets?: Record<string, string>; count: string; sum: string; labels?: Labels };
  export interface MetricFamily {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: (Sample | Summary)[];
  }
  export default function parsePrometheusTextFormat(text: string): MetricFamily[];
}
