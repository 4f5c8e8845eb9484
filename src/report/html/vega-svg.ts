/**
 * The one place that turns a chart specification into SVG: Vega-Lite compiles it to Vega, Vega's headless
 * view renders the scene to an SVG string (no DOM, no canvas, no network: the data is inline). Warnings of
 * either library are collected and returned instead of going to the console. The libraries are imported on
 * first use.
 */
import type { TopLevelSpec } from 'vega-lite';

export interface RenderedSvg {
  svg: string;
  /** Warnings Vega-Lite or Vega raised while compiling or rendering (none for a well-formed chart). */
  warnings: string[];
}

/** Renders a Vega-Lite specification (data inline) to a standalone SVG string. */
export async function renderVegaLiteSvg(spec: Record<string, unknown>): Promise<RenderedSvg> {
  // Loaded on first use: commands that write no HTML do not pay for importing the libraries.
  const { View, Warn, logger, parse } = await import('vega');
  const { compile } = await import('vega-lite');
  const warnings: string[] = [];
  const collect = logger(Warn, undefined, (_method, _level, args) => {
    warnings.push(args.map(String).join(' '));
  });
  const vegaSpec = compile(spec as unknown as TopLevelSpec, { logger: collect }).spec;
  const view = new View(parse(vegaSpec), { renderer: 'none', logger: collect, logLevel: Warn });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}
