/**
 * One self-contained HTML page for any report: charts as inline SVG (rendered here, so the page runs no
 * script and loads nothing), each with its table beneath as the text alternative, a print stylesheet, and the
 * report's JSON embedded in a `<script type="application/json">` block so the page is the data
 * (`JSON.parse(document.getElementById('modelscout-report').textContent)`). Pure apart from the SVG rendering.
 */
import type { Chart, DataTable } from './charts.js';
import { renderVegaLiteSvg } from './vega-svg.js';

export interface HtmlSection {
  heading: string;
  paragraphs?: string[];
  charts?: Chart[];
  tables?: { caption: string; table: DataTable }[];
}

export interface HtmlPage {
  /** What the report is, e.g. `modelscout.bench`: the `data-report-kind` of the page. */
  kind: string;
  title: string;
  /** Key facts shown at the top (label, value). */
  facts: [string, string][];
  /** Warnings and notes shown under the facts. */
  notes: string[];
  sections: HtmlSection[];
  /** The report itself, embedded verbatim. */
  data: unknown;
  /** Who wrote the report, shown in the footer (e.g. `modelscout 0.1.0, 2026-01-01T00:00:00Z`). */
  footer: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** JSON that cannot end the script element it sits in (`</script>`, `<!--`) and stays valid JSON. */
export function embeddedJson(value: unknown): string {
  return JSON.stringify(value, null, 1)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function renderTable(table: DataTable, caption: string): string {
  const head = table.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
  const body = table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  return `<table><caption>${escapeHtml(caption)}</caption><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

async function renderChart(chart: Chart): Promise<string> {
  const { svg, warnings } = await renderVegaLiteSvg(chart.spec);
  // A chart that renders with warnings is a defect of its builder, not something for the reader to see.
  if (warnings.length > 0) throw new Error(`chart ${chart.id}: ${warnings.join('; ')}`);
  // The SVG is an image described by the caption; its table beneath carries the same figures as text.
  const labelled = svg.replace(/^<svg /, `<svg role="img" aria-labelledby="${chart.id}-title" aria-describedby="${chart.id}-caption" `);
  return [
    `<figure class="chart" id="${escapeHtml(chart.id)}" data-chart="${escapeHtml(chart.id)}" data-marks="${chart.marks}">`,
    `<figcaption><strong id="${escapeHtml(chart.id)}-title">${escapeHtml(chart.title)}</strong> <span id="${escapeHtml(chart.id)}-caption">${escapeHtml(chart.caption)}</span></figcaption>`,
    `<div class="svg">${labelled}</div>`,
    `<details class="table" open><summary>The figures as a table</summary>${renderTable(chart.table, chart.title)}</details>`,
    '</figure>',
  ].join('\n');
}

const STYLE = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #fff; margin: 0 auto; max-width: 980px; padding: 24px; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
ul.notes li { margin: .2rem 0; }
figure.chart { margin: 1.2rem 0 2rem; break-inside: avoid; page-break-inside: avoid; }
figure.chart figcaption { margin-bottom: .4rem; }
div.svg svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin: .4rem 0; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #bbb; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
footer { margin-top: 2rem; color: #555; font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  details.table > summary { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
`;

/** The charts of a page, in page order. */
export function pageCharts(page: HtmlPage): Chart[] {
  return page.sections.flatMap((s) => s.charts ?? []);
}

/** Renders the page. Charts render one after another (each is a fresh headless Vega view). */
export async function renderHtmlPage(page: HtmlPage): Promise<string> {
  const sections: string[] = [];
  for (const section of page.sections) {
    const parts: string[] = [`<section>`, `<h2>${escapeHtml(section.heading)}</h2>`];
    for (const p of section.paragraphs ?? []) parts.push(`<p>${escapeHtml(p)}</p>`);
    for (const chart of section.charts ?? []) parts.push(await renderChart(chart));
    for (const t of section.tables ?? []) parts.push(renderTable(t.table, t.caption));
    parts.push('</section>');
    sections.push(parts.join('\n'));
  }
  const facts = page.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  const notes = page.notes.length > 0 ? `<ul class="notes">${page.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return [
    '<!doctype html>',
    `<html lang="en" data-report-kind="${escapeHtml(page.kind)}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Nothing may load at view time: the page is self-contained, and this says so to the browser too.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(page.title)}</h1>`,
    `<dl class="facts">${facts}</dl>`,
    notes,
    sections.join('\n'),
    `<footer>${escapeHtml(page.footer)}. The report's JSON is embedded in this page (script element #modelscout-report).</footer>`,
    `<script type="application/json" id="modelscout-report">${embeddedJson(page.data)}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
