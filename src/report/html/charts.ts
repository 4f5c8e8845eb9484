/**
 * Chart builders shared by every HTML report: a numeric x–y chart (points, optional lines through each
 * series, vertical error bands, target lines) and an interval chart (one row per category, a value with its
 * interval, reference lines). They return Vega-Lite specifications with the data inline, the number of point
 * marks the rendered SVG must hold, and the table that is the chart's text alternative. Pure.
 *
 * Series are told apart by shape and dash pattern as well as by colour, so a chart printed in greyscale still
 * reads; the palette's colours also differ in lightness.
 */

/** Colours with distinct lightness (dark blue, orange, green, red, grey, sky blue). */
export const SERIES_COLOURS = ['#1b4f9c', '#e69f00', '#009e73', '#cc3311', '#555555', '#56b4e9'] as const;
export const SERIES_SHAPES = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down'] as const;
const SERIES_DASHES: number[][] = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3]];

/** A table beneath a chart: the same figures as text. */
export interface DataTable {
  columns: string[];
  rows: string[][];
}

export interface Chart {
  /** Stable identifier (also the figure's HTML id). */
  id: string;
  title: string;
  /** One or two sentences: what the chart shows and how to read it. */
  caption: string;
  /** Vega-Lite specification with inline data. */
  spec: Record<string, unknown>;
  /** Point marks (symbols) the rendered chart holds: one per plotted figure. */
  marks: number;
  table: DataTable;
}

export interface Axis {
  title: string;
  unit: string;
  log?: boolean;
  /** Base of the logarithmic scale (default 10; 2 for doubling sweeps). */
  logBase?: number;
  /** d3-format string for the axis labels, e.g. `~s` or `.0f`. */
  format?: string;
  /** Start the scale at zero (default: true for linear axes). */
  zero?: boolean;
}

export interface XyPoint {
  x: number;
  y: number;
  series: string;
  /** Shown in the tooltip (`<title>`) of the mark. */
  label?: string;
  /** Written beside the point (e.g. the candidate's name) when the chart shows tags. */
  tag?: string;
  /** The band around y (e.g. an estimate's error band), drawn as a vertical bar. */
  yLow?: number;
  yHigh?: number;
}

export interface ReferenceLine {
  /** `x`: a vertical line at value; `y`: a horizontal one. */
  axis: 'x' | 'y';
  value: number;
  label: string;
}

export interface XyChartInput {
  id: string;
  title: string;
  caption: string;
  x: Axis;
  y: Axis;
  points: XyPoint[];
  /** Join each series' points in x order. */
  lines?: boolean;
  /** Write each point's tag beside it. */
  tags?: boolean;
  /** Join the points in x order (default) or in the order given (e.g. a sweep's levels on a derived axis). */
  lineOrder?: 'x' | 'given';
  references?: ReferenceLine[];
  table: DataTable;
  /** Series in legend order (default: order of first appearance). */
  seriesOrder?: string[];
  seriesTitle?: string;
  seriesStyles?: Record<string, SeriesStyle>;
}

export function axisTitle(axis: Axis): string {
  return axis.unit ? `${axis.title} (${axis.unit})` : axis.title;
}

function scaleOf(axis: Axis): Record<string, unknown> {
  if (axis.log) return axis.logBase ? { type: 'log', base: axis.logBase } : { type: 'log' };
  return { zero: axis.zero ?? true };
}

function axisOf(axis: Axis): Record<string, unknown> {
  return { title: axisTitle(axis), ...(axis.format ? { format: axis.format } : {}), grid: true };
}

/** A fixed look for a named series (e.g. verdicts: regressed is always the red cross). */
export interface SeriesStyle {
  colour: string;
  shape: string;
}

function seriesScales(order: string[], title: string, styles: Record<string, SeriesStyle> = {}): Record<string, Record<string, unknown>> {
  const n = order.length;
  const pick = <T>(list: readonly T[], own: (s: SeriesStyle) => T): T[] => order.map((name, i) => { const s = styles[name]; return s ? own(s) : (list[i % list.length] as T); });
  const legend = { title, orient: 'bottom', direction: 'vertical', columns: Math.min(n, 2), labelLimit: 480, titleLimit: 480 };
  const colours = pick(SERIES_COLOURS, (s) => s.colour);
  return {
    color: { field: 'series', type: 'nominal', scale: { domain: order, range: colours }, legend },
    shape: { field: 'series', type: 'nominal', scale: { domain: order, range: pick(SERIES_SHAPES, (s) => s.shape) }, legend },
    strokeDash: { field: 'series', type: 'nominal', scale: { domain: order, range: pick(SERIES_DASHES, () => [1, 0]) }, legend },
  };
}

function orderOfSeries(points: { series: string }[], given?: string[]): string[] {
  const seen = new Set<string>(given ?? []);
  const out = [...(given ?? [])];
  for (const p of points) {
    if (seen.has(p.series)) continue;
    seen.add(p.series);
    out.push(p.series);
  }
  return out;
}

function referenceLayers(references: ReferenceLine[], xField: Record<string, unknown>, yField: Record<string, unknown>): Record<string, unknown>[] {
  const layers: Record<string, unknown>[] = [];
  for (const axis of ['x', 'y'] as const) {
    const refs = references.filter((r) => r.axis === axis);
    if (refs.length === 0) continue;
    const position = axis === 'x' ? { x: { ...xField, field: 'value' } } : { y: { ...yField, field: 'value' } };
    const values = refs.map((r) => ({ value: r.value, label: r.label }));
    layers.push({
      name: `references_${axis}`,
      data: { values },
      mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: '#222222' },
      encoding: { ...position, tooltip: { field: 'label', type: 'nominal' } },
    });
    layers.push({
      name: `reference_labels_${axis}`,
      data: { values },
      mark:
        axis === 'x'
          ? { type: 'text', angle: 270, align: 'right', baseline: 'bottom', dx: -4, dy: -3, y: 0, fontSize: 11, color: '#222222' }
          : { type: 'text', align: 'right', baseline: 'bottom', dy: -3, x: 'width', fontSize: 11, color: '#222222' },
      encoding: { ...position, text: { field: 'label', type: 'nominal' } },
    });
  }
  return layers;
}

const WIDTH = 560;
const HEIGHT = 300;
const FONT = { font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif' };

function base(id: string, title: string, caption: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    description: `${title}. ${caption}`,
    background: 'white',
    padding: 8,
    config: { ...FONT, axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' }, legend: { labelFontSize: 11, titleFontSize: 11 }, view: { stroke: '#cccccc' } },
    usermeta: { chart: id },
  };
}

/** Points (and lines) on two numeric axes, with optional y bands and reference lines. */
export function xyChart(input: XyChartInput): Chart {
  const order = orderOfSeries(input.points, input.seriesOrder);
  const xField = { field: 'x', type: 'quantitative', title: axisTitle(input.x), scale: scaleOf(input.x), axis: axisOf(input.x) };
  const yField = { field: 'y', type: 'quantitative', title: axisTitle(input.y), scale: scaleOf(input.y), axis: axisOf(input.y) };
  const series = seriesScales(order, input.seriesTitle ?? 'series', input.seriesStyles);
  const values = input.points.map((p, i) => ({ i, x: p.x, y: p.y, series: p.series, tag: p.tag ?? '', label: p.label ?? `${p.series}: ${p.x}, ${p.y}`, y_low: p.yLow ?? null, y_high: p.yHigh ?? null }));
  const layers: Record<string, unknown>[] = [];
  if (input.points.some((p) => p.yLow !== undefined && p.yHigh !== undefined)) {
    layers.push({
      name: 'bands',
      transform: [{ filter: 'datum.y_low != null && datum.y_high != null' }],
      mark: { type: 'rule', strokeWidth: 6, opacity: 0.35 },
      encoding: { x: xField, y: { ...yField, field: 'y_low' }, y2: { field: 'y_high' }, color: { value: '#8a8a8a' }, detail: { field: 'series', type: 'nominal' }, tooltip: { field: 'label', type: 'nominal' } },
    });
  }
  if (input.lines) {
    layers.push({
      name: 'lines',
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: { x: xField, y: yField, color: series.color, strokeDash: series.strokeDash, order: { field: input.lineOrder === 'given' ? 'i' : 'x', type: 'quantitative' } },
    });
  }
  layers.push({
    name: 'points',
    mark: { type: 'point', filled: true, size: 80, opacity: 1, stroke: '#000000', strokeWidth: 0.6 },
    encoding: { x: xField, y: yField, color: series.color, shape: series.shape, tooltip: { field: 'label', type: 'nominal' } },
  });
  if (input.tags) {
    layers.push({
      name: 'point_labels',
      mark: { type: 'text', align: 'left', dx: 8, dy: -6, fontSize: 11, color: '#222222' },
      encoding: { x: xField, y: yField, text: { field: 'tag', type: 'nominal' } },
    });
  }
  layers.push(...referenceLayers(input.references ?? [], xField, yField));
  return {
    id: input.id,
    title: input.title,
    caption: input.caption,
    spec: { ...base(input.id, input.title, input.caption), width: WIDTH, height: HEIGHT, data: { values }, layer: layers },
    marks: input.points.length,
    table: input.table,
  };
}

export interface IntervalRow {
  category: string;
  series: string;
  value: number;
  low?: number;
  high?: number;
  label?: string;
}

export interface IntervalChartInput {
  id: string;
  title: string;
  caption: string;
  /** The value axis (horizontal). */
  x: Axis;
  categoryTitle: string;
  rows: IntervalRow[];
  references?: ReferenceLine[];
  table: DataTable;
  seriesOrder?: string[];
  seriesTitle?: string;
  seriesStyles?: Record<string, SeriesStyle>;
}

/** One row per category: each series' value as a point with its interval as a bar, on a shared value axis. */
export function intervalChart(input: IntervalChartInput): Chart {
  const order = orderOfSeries(input.rows, input.seriesOrder);
  const categories = [...new Set(input.rows.map((r) => r.category))];
  const xField = { field: 'value', type: 'quantitative', title: axisTitle(input.x), scale: scaleOf(input.x), axis: axisOf(input.x) };
  const yField = { field: 'category', type: 'nominal', title: input.categoryTitle, sort: categories, axis: { labelLimit: 420 } };
  const series = seriesScales(order, input.seriesTitle ?? 'series', input.seriesStyles);
  const offset = { yOffset: { field: 'series', type: 'nominal', scale: { domain: order, paddingOuter: 0.3 } } };
  const values = input.rows.map((r) => ({ category: r.category, series: r.series, value: r.value, low: r.low ?? null, high: r.high ?? null, label: r.label ?? `${r.category} — ${r.series}: ${r.value}` }));
  const layers: Record<string, unknown>[] = [];
  if (input.rows.some((r) => r.low !== undefined && r.high !== undefined)) {
    layers.push({
      name: 'bands',
      transform: [{ filter: 'datum.low != null && datum.high != null' }],
      mark: { type: 'rule', strokeWidth: 6, opacity: 0.35 },
      encoding: { y: yField, ...offset, x: { ...xField, field: 'low' }, x2: { field: 'high' }, color: { value: '#8a8a8a' }, detail: { field: 'series', type: 'nominal' }, tooltip: { field: 'label', type: 'nominal' } },
    });
  }
  layers.push({
    name: 'points',
    mark: { type: 'point', filled: true, size: 90, opacity: 1, stroke: '#000000', strokeWidth: 0.6 },
    encoding: { y: yField, ...offset, x: xField, color: series.color, shape: series.shape, tooltip: { field: 'label', type: 'nominal' } },
  });
  const refs = (input.references ?? []).filter((r) => r.axis === 'x');
  if (refs.length > 0) {
    const refValues = refs.map((r) => ({ value: r.value, label: r.label }));
    layers.push({
      name: 'references_x',
      data: { values: refValues },
      mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: '#222222' },
      encoding: { x: xField, tooltip: { field: 'label', type: 'nominal' } },
    });
    layers.push({
      name: 'reference_labels_x',
      data: { values: refValues },
      mark: { type: 'text', angle: 270, align: 'right', baseline: 'bottom', dx: -4, dy: -3, y: 0, fontSize: 11, color: '#222222' },
      encoding: { x: xField, text: { field: 'label', type: 'nominal' } },
    });
  }
  return {
    id: input.id,
    title: input.title,
    caption: input.caption,
    spec: {
      ...base(input.id, input.title, input.caption),
      width: WIDTH,
      height: Math.max(80, categories.length * Math.max(26, 14 * order.length)),
      data: { values },
      layer: layers,
    },
    marks: input.rows.length,
    table: input.table,
  };
}
