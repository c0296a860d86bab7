/**
 * The WAN chart: p50 latency against file size, one line per path (solid at concurrency 1, dashed at 16), and the
 * ideal a perfect streaming forwarder would reach. A hand-written SVG: no chart library, readable in any browser
 * and on GitHub.
 */
import type { CellOutcome, PathKind } from './cells.ts';
import { idealMs, type Report } from './report.ts';
import { sizeLabel } from './stats.ts';

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 64, right: 210, top: 40, bottom: 52 };
const COLOURS: Partial<Record<PathKind, string>> = {
  gateway: '#d62728',
  gatewayAt10: '#ff7f0e',
  apollo: '#1f77b4',
  multer: '#2ca02c',
  buffering: '#9467bd',
  direct: '#7f7f7f',
};
const LABELS: Partial<Record<PathKind, string>> = {
  gateway: 'gateway',
  gatewayAt10: 'gateway, cap 10 (default)',
  apollo: 'Apollo + graphql-upload',
  multer: 'Express + multer',
  buffering: 'Yoga File (buffering)',
  direct: 'direct to CRM',
};

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step for about `count` gridlines over 0..max. */
function step(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
}

export function renderWanChart(report: Report): string {
  const cells = report.cells.filter((c) => c.profile === 'wan');
  const sizes = [...new Set(cells.map((c) => c.size))].sort((a, b) => a - b);
  const concurrencies = [...new Set(cells.map((c) => c.concurrency))].sort((a, b) => a - b);
  const ideal = (size: number): number => idealMs(report.settings, cells.find((c) => c.size === size && c.path !== 'direct')?.bodyBytes ?? size, size);
  const maxMs = Math.max(1, ...cells.map((c) => c.p50Ms), ...sizes.map(ideal)) * 1.08;
  const maxSize = Math.max(...sizes, 1) * 1.05;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (size: number): number => MARGIN.left + (size / maxSize) * plotW;
  const y = (ms: number): number => MARGIN.top + plotH - (ms / maxMs) * plotH;
  const parts: string[] = [];
  const { wan } = report.settings;
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="600">${escape(
      `Upload p50, WAN profile: client ${wan.clientMbps} Mbit/s, CRM ${wan.crmMbps} Mbit/s + ${wan.crmDelayMs} ms`,
    )}</text>`,
  );
  const yStep = step(maxMs, 6);
  for (let ms = 0; ms <= maxMs; ms += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(ms).toFixed(1)}" y2="${y(ms).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${(y(ms) + 4).toFixed(1)}" text-anchor="end">${+(ms / 1000).toFixed(2)} s</text>`,
    );
  }
  for (const size of sizes) {
    parts.push(
      `<line x1="${x(size).toFixed(1)}" x2="${x(size).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x(size).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${sizeLabel(size)}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">file size</text>`,
  );
  const line = (points: [number, number][], colour: string, dash: string, width: number): void => {
    const d = points.map(([size, ms], i) => `${i === 0 ? 'M' : 'L'}${x(size).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    for (const [size, ms] of points) parts.push(`<circle cx="${x(size).toFixed(1)}" cy="${y(ms).toFixed(1)}" r="3" fill="${colour}"/>`);
  };
  // The ideal: the same at every concurrency (each upload has its own client link and CRM leg).
  line(sizes.map((size) => [size, ideal(size)]), '#000', '2 4', 1.5);
  const paths = (Object.keys(COLOURS) as PathKind[]).filter((p) => cells.some((c) => c.path === p));
  for (const path of paths) {
    concurrencies.forEach((concurrency, i) => {
      const points = sizes
        .map((size) => cells.find((c: CellOutcome) => c.path === path && c.size === size && c.concurrency === concurrency))
        .filter((c): c is CellOutcome => c !== undefined)
        .map((c): [number, number] => [c.size, c.p50Ms]);
      if (points.length) line(points, COLOURS[path]!, i === 0 ? '' : '7 4', path === 'gateway' ? 2.5 : 1.5);
    });
  }
  // Legend.
  const legendX = MARGIN.left + plotW + 16;
  let legendY = MARGIN.top + 8;
  const entry = (colour: string, dash: string, label: string): void => {
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 26}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${legendX + 32}" y="${legendY + 4}">${escape(label)}</text>`,
    );
    legendY += 20;
  };
  for (const path of paths) entry(COLOURS[path]!, '', LABELS[path]!);
  entry('#000', '2 4', 'ideal: max(legs) + delay');
  legendY += 8;
  concurrencies.forEach((concurrency, i) => entry('#555', i === 0 ? '' : '7 4', `concurrency ${concurrency}`));
  parts.push('</svg>', '');
  return parts.join('\n');
}
