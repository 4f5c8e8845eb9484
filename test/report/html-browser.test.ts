/**
 * The HTML reports in a real browser: Debian's `chromium`, driven headless over the DevTools protocol
 * (puppeteer-core, no browser download). Each page is written by the CLI (`modelscout report --html`,
 * `compare --html`), then loaded from disk: no console error, no network request, every chart's SVG holds
 * the number of marks the report implies, and a screenshot goes to test-output/html/ (git-ignored) for a
 * person to look at. `.ci/run` installs chromium when it is missing; set CHROMIUM_PATH to use another build.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HtmlSummary } from '../../src/report/html/summary.js';
import { DEPTH_REPORT_MARKS, depthReport } from './make-report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCREENSHOTS = join(ROOT, 'test-output', 'html');
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

let dir: string;
let browser: Browser;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('no chromium: install Debian\'s chromium package (apt-get install chromium) or set CHROMIUM_PATH');
  dir = await mkdtemp(join(tmpdir(), 'modelscout-html-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in containers has no user namespaces for the sandbox; the pages are our own files.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface PageCheck {
  consoleErrors: string[];
  requests: string[];
  marks: Record<string, { expected: number; found: number }>;
  dataKind: string | null;
  embedded: unknown;
}

/** Loads a page from disk and reads what the browser saw and drew. */
async function inspect(htmlPath: string, screenshot: string): Promise<PageCheck> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(htmlPath).href;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  await page.setViewport({ width: 1000, height: 800 });
  await page.goto(url, { waitUntil: 'load' });
  // Evaluated in the page (a string, so this file needs no DOM typings).
  const found = (await page.evaluate(`(() => {
    const marks = {};
    for (const figure of document.querySelectorAll('figure[data-chart]')) {
      marks[figure.getAttribute('data-chart')] = {
        expected: Number(figure.getAttribute('data-marks')),
        found: figure.querySelectorAll('svg g.points_marks > path').length,
      };
    }
    const data = document.getElementById('modelscout-report');
    return { marks, dataKind: document.documentElement.getAttribute('data-report-kind'), embedded: JSON.parse(data ? data.textContent : 'null') };
  })()`)) as Pick<PageCheck, 'marks' | 'dataKind' | 'embedded'>;
  await page.screenshot({ path: join(SCREENSHOTS, screenshot), fullPage: true });
  await page.close();
  return { consoleErrors, requests, ...found };
}

const cli = (args: string[]) => execa(process.execPath, ['bin/run.js', ...args], { cwd: ROOT, reject: false });

function expectMarks(check: PageCheck, expected: Record<string, number>): void {
  const found = Object.fromEntries(Object.entries(check.marks).map(([id, m]) => [id, m.found]));
  expect(found).toEqual(expected);
}

describe('HTML reports in headless Chromium', () => {
  it('bench report with a comparison: loads offline, no console error, the expected marks per chart', async () => {
    const base = join(dir, 'base.json');
    const current = join(dir, 'current.json');
    const report = depthReport();
    await writeFile(base, JSON.stringify(depthReport(-4)));
    await writeFile(current, JSON.stringify(report));
    const html = join(dir, 'bench.html');
    const r = await cli(['report', current, '--html', html, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as HtmlSummary).report_kind).toBe('bench');
    const check = await inspect(html, 'bench.png');
    expect(check.consoleErrors).toEqual([]);
    expect(check.requests).toEqual([]);
    const { 'comparison-change': _c, 'comparison-prefill_tps': _p, 'comparison-decode_tps': _d, 'comparison-ttft_ms': _t, 'comparison-e2e_ms': _e, 'comparison-rss_peak_bytes': _r, ...benchOnly } = DEPTH_REPORT_MARKS;
    expectMarks(check, benchOnly);
    expect(check.dataKind).toBe('modelscout.bench');
    expect(check.embedded).toEqual(report);

    // compare --html: the same two reports' comparison, one mark per compared metric.
    const chtml = join(dir, 'compare.html');
    const c = await cli(['compare', current, base, '--html', chtml]);
    expect([0, 1, 3]).toContain(c.exitCode);
    const ccheck = await inspect(chtml, 'compare.png');
    expect(ccheck.consoleErrors).toEqual([]);
    expect(ccheck.requests).toEqual([]);
    for (const [id, m] of Object.entries(ccheck.marks)) expect(m.found, id).toBe(m.expected);
    expect(ccheck.marks['comparison-change']?.found).toBe(DEPTH_REPORT_MARKS['comparison-change']);
  });

  it('the confirm report of the default run, a real bench report with a baseline and a serving sweep', async () => {
    for (const [name, marks] of [
      ['confirm-report', { 'candidates-speed-memory': 8, 'estimate-vs-measured-decode': 6, 'estimate-vs-measured-ttft': 6, 'estimate-vs-measured-prefill': 6, 'estimate-vs-measured-memory': 6, extrapolation: 6 }],
      ['bench-report', null],
      ['serve-report', { 'serve-throughput': 12, 'serve-ttft': 18, 'serve-tpot': 18, 'serve-knee': 6 }],
    ] as const) {
      const html = join(dir, `${name}.html`);
      const r = await cli(['report', join(ROOT, 'fixtures', 'reports', `${name}.json`), '--html', html]);
      expect(r.exitCode, r.stderr).toBe(0);
      const check = await inspect(html, `${name}.png`);
      expect(check.consoleErrors, name).toEqual([]);
      expect(check.requests, name).toEqual([]);
      if (marks) expectMarks(check, marks);
      for (const [id, m] of Object.entries(check.marks)) expect(m.found, `${name} ${id}`).toBe(m.expected);
      expect(Object.keys(check.marks).length, name).toBeGreaterThan(2);
      const text = await readFile(html, 'utf8');
      expect(text).not.toMatch(/(src|href)="https?:/);
    }
  });
});
