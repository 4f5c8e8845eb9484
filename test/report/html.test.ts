import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectReportKind, pageForReport, renderReportHtml } from '../../src/pipeline/report-html.js';
import { compareReports } from '../../src/report/compare.js';
import { decodeTpsByDepth } from '../../src/report/depth-series.js';
import { benchPage, comparisonPage } from '../../src/report/html/bench-page.js';
import { embeddedJson, pageCharts, renderHtmlPage } from '../../src/report/html/page.js';
import type { BenchReport } from '../../src/report/schema.js';
import { depthSparklines, sparkline } from '../../src/ui/sparkline.js';
import { DEPTH_REPORT_MARKS, depthReport, makeReport, makeResult } from './make-report.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/reports/', import.meta.url));
const fixture = (name: string): unknown => JSON.parse(readFileSync(`${FIXTURES}${name}`, 'utf8'));

function marksInSvg(html: string, id: string): number {
  const figure = html.split(`<figure class="chart" id="${id}"`)[1]?.split('</figure>')[0] ?? '';
  const group = figure.split('class="mark-symbol role-mark points_marks"')[1]?.split('</g>')[0] ?? '';
  return (group.match(/<path /g) ?? []).length;
}

describe('HTML report of a bench report', () => {
  it('has one chart per figure, each with the expected number of marks in its SVG, axis titles with units and a table', async () => {
    const report = depthReport();
    report.comparison = compareReports(report, depthReport(-4));
    const page = benchPage(report);
    const charts = pageCharts(page);
    expect(Object.fromEntries(charts.map((c) => [c.id, c.marks]))).toEqual(DEPTH_REPORT_MARKS);
    const html = await renderHtmlPage(page);
    for (const c of charts) {
      expect(marksInSvg(html, c.id), c.id).toBe(c.marks);
      expect(c.table.rows.length, c.id).toBeGreaterThan(0);
    }
    // Axis titles carry units.
    expect(html).toContain('KV cache depth at the start of decoding (tokens)');
    expect(html).toContain('decode speed (tok/s)');
    expect(html).toContain('peak resident memory (GiB)');
    expect(html).toContain('change from baseline (%)');
    // Threshold lines are drawn and labelled.
    expect(html).toContain('min 30.0 tok/s');
    expect(html).toContain('max 2.79 GiB');
    // Nothing at view time: no script but the data block, no external reference.
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain('<script type="application/json" id="modelscout-report">');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('says under the estimate charts what the estimates rest on', async () => {
    const report = depthReport();
    for (const r of report.results) r.estimate!.basis = 'AMD EPYC (CPU, 2 cores); bandwidth 29.2 GB/s (probe); default CPU efficiencies';
    const html = await renderHtmlPage(benchPage(report));
    expect(html).toContain('<p>Estimates: AMD EPYC (CPU, 2 cores); bandwidth 29.2 GB/s (probe); default CPU efficiencies (not calibrated on this machine');
    expect(html.match(/<p>Estimates: /g)).toHaveLength(1);
  });

  it('embeds the report so the page is the data, safely inside the script element', async () => {
    const report = depthReport();
    report.results[0]!.model.id = 'evil</script><script>alert(1)</script>';
    const html = await renderHtmlPage(benchPage(report));
    const block = html.split('<script type="application/json" id="modelscout-report">')[1]?.split('</script>')[0] ?? '';
    expect(JSON.parse(block)).toEqual(report);
    expect(html).not.toContain('<script>alert(1)');
    expect(embeddedJson({ a: '</script>\u2028' })).not.toMatch(/<|\u2028/);
  });

  it('leaves out the depth chart when no test varies the depth', () => {
    const page = benchPage(makeReport([makeResult({ testId: 'pp512+tg128' })]));
    expect(pageCharts(page).map((c) => c.id)).toEqual(['speed-vs-memory']);
  });

  it('renders the comparison of compare on its own', async () => {
    const c = compareReports(depthReport(), depthReport(-4));
    const page = comparisonPage(c);
    expect(pageCharts(page)[0]?.marks).toBe(c.results.length);
    const html = await renderHtmlPage(page);
    expect(html).toContain('data-report-kind="modelscout.comparison"');
    expect(html).toContain('±10.0% threshold');
  });
});

describe('modelscout report: any saved report', () => {
  it('tells the kinds apart', () => {
    expect(detectReportKind(fixture('bench-report.json'))).toBe('bench');
    expect(detectReportKind(fixture('confirm-report.json'))).toBe('recommendation');
    expect(detectReportKind(compareReports(depthReport(), depthReport(-4)))).toBe('comparison');
    expect(detectReportKind({ name: 'modelscout' })).toBeNull();
  });

  it('renders every schema version compare reads (bench "1", including reports written before optional fields existed)', async () => {
    const current = fixture('bench-report.json') as BenchReport;
    const older = structuredClone(current);
    for (const r of older.results) {
      delete r.load.cpu_busy_before;
      if (r.kv_cache) delete r.kv_cache.update;
    }
    for (const report of [current, older]) {
      const rendered = await renderReportHtml(report, 'bench.json');
      expect(rendered.kind).toBe('bench');
      expect(rendered.charts.map((c) => c.id)).toContain('decode-vs-depth');
      expect(rendered.charts.find((c) => c.id === 'decode-vs-depth')?.marks).toBe(3);
    }
  });

  it('rejects a foreign file and a report of another schema version with one clear error', () => {
    expect(() => pageForReport({ name: 'x' }, 'x.json')).toThrow(/x\.json is not a report modelscout renders/);
    const future = { ...(fixture('bench-report.json') as object), schema_version: '2' };
    expect(() => pageForReport(future, 'future.json')).toThrow(/schema_version "2"; this modelscout reads "1"/);
    const broken = fixture('confirm-report.json') as { targets: unknown };
    broken.targets = null;
    expect(() => pageForReport(broken, 'broken.json')).toThrow(/broken\.json is not a valid modelscout report: targets/);
  });

  it('the confirm report: candidates against the targets, estimate against measurement with the band, the extrapolation', async () => {
    const rec = fixture('confirm-report.json') as { candidates: { speed: { decodeTokPerSec: unknown } }[]; confirm: { candidates: { measurements: { status: string }[] }[] } };
    const measured = rec.confirm.candidates.flatMap((c) => c.measurements).filter((m) => m.status === 'ok').length;
    const rendered = await renderReportHtml(rec, 'confirm.json');
    const marks = Object.fromEntries(rendered.charts.map((c) => [c.id, c.marks]));
    expect(marks['candidates-speed-memory']).toBe(rec.candidates.filter((c) => c.speed.decodeTokPerSec).length + measured);
    expect(marks['estimate-vs-measured-decode']).toBe(2 * measured);
    expect(marks['estimate-vs-measured-ttft']).toBe(2 * measured);
    expect(rendered.html).toContain('target 20.0 tok/s');
    expect(rendered.html).toContain('decode speed per stream (tok/s)');
    expect(rendered.charts.map((c) => c.id)).toContain('extrapolation');
  });
});

describe('HTML report of a serving sweep', () => {
  it('throughput, TTFT and TPOT percentiles against the load with the SLO lines, the knee, the --find-max line', async () => {
    const report = fixture('serve-report.json') as { levels: unknown[]; find_max: unknown; slo: { metric: string }[] };
    const n = report.levels.length;
    const plain = await renderReportHtml(report, 'serve.json');
    expect(plain.kind).toBe('serve');
    expect(Object.fromEntries(plain.charts.map((c) => [c.id, c.marks]))).toEqual({ 'serve-throughput': 2 * n, 'serve-ttft': 3 * n, 'serve-tpot': 3 * n, 'serve-knee': n });
    for (const c of plain.charts) expect(marksInSvg(plain.html, c.id), c.id).toBe(c.marks);
    expect(plain.html).toContain('SLO p99 ≤ 400 ms');
    expect(plain.html).toContain('SLO p99 ≤ 60.0 ms');
    expect(plain.html).toContain('concurrency (requests in flight)');
    expect(plain.html).not.toContain('--find-max:');
    report.find_max = { dimension: 'concurrency', best: 8, first_failing: 16, steps: [{ value: 8, phase: 'doubling', slo_met: true, reason: 'met' }, { value: 16, phase: 'doubling', slo_met: false, reason: 'ttft p99' }], stopped: null };
    const searched = await renderReportHtml(report, 'serve.json');
    expect(searched.html).toContain('--find-max: 8 requests in flight');
    expect(searched.html).toContain('Highest concurrency that met every SLO: 8; first failing: 16.');
  });
});

describe('terminal sparkline', () => {
  it('scales from zero to the largest value', () => {
    expect(sparkline([40, 30, 20, 10])).toBe('█▆▅▃');
    expect(sparkline([5, 5])).toBe('██');
    expect(sparkline([])).toBe('');
    expect(sparkline([1, Number.NaN])).toBe('█ ');
  });

  it('one line per depth series, first and last value named', () => {
    const lines = depthSparklines(decodeTpsByDepth(depthReport()));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/qwen2\.5-0\.5b-synthetic \(synthetic\) fp32 cpu t2 tg64\s+█▇▆▅\s+40\.0 @d0 → 25\.0 @d2048$/);
    expect(depthSparklines(decodeTpsByDepth(makeReport([makeResult({})])))).toEqual([]);
  });
});
