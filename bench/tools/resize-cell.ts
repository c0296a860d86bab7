/**
 * `node bench/tools/resize-cell.ts`: the resize cell (phone photos, issue 15). The CRM sink and the gateway
 * (`node src/main.ts`, as `npm run bench` starts them), then uploads with `fitToLimits: true` of
 *
 * - a 12 MP JPEG (4032×3024, photo-like texture, about 2–3 MB, with EXIF orientation 6 and GPS), and
 * - a 25 MP PNG (5000×5000, gradients, about 4–5 MB),
 * - the largest photos the gateway still decodes whole (MAX_WHOLE_DECODE_PIXELS, 12.5 MP): a 12 MP PNG (4000×3000)
 *   interlaced, and a 12 MP progressive JPEG (4032×3024, photo-like texture),
 *
 * each at concurrency 1 and 8, in a closed loop: p50 and p99 latency, the gateway's CPU seconds per upload (from
 * /proc), and its peak RSS growth over its idle RSS before the first resize (so loading sharp/libvips counts too).
 * Target: growth ≤ 256 MiB at concurrency 8 with the default lane (PHOTO_RESIZE_CONCURRENCY=2).
 *
 * First the byte-for-byte path for a JPEG within the limits (6 MP with GPS, concurrency 8) on this gateway (the location
 * filter on, the default) and on a second one with PHOTO_STRIP_LOCATION=false: what the filter costs.
 *
 * BENCH_RESIZE_ROUNDS (default 3): uploads per worker per cell, after one warm-up upload per cell.
 * BENCH_GATEWAY_ENV and BENCH_GATEWAY_ROOT as for the bench (e.g. BENCH_GATEWAY_ENV=PHOTO_RESIZE_CONCURRENCY=1).
 */
import sharp from 'sharp';
import { killAllNow, stopAll } from '../children.ts';
import { cpuSeconds, idleRss, machineBusySeconds, RssSampler } from '../proc.ts';
import { startGateway, startSink, type Server } from '../servers.ts';
import { loadSettings } from '../settings.ts';
import { mib, percentile, sig } from '../stats.ts';
import { BENCH_TOKEN, RECORD_ID } from '../bodies.ts';

process.on('exit', killAllNow);
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const settings = loadSettings();
const rounds = Number(process.env.BENCH_RESIZE_ROUNDS ?? 3);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1_000) throw new Error(`BENCH_RESIZE_ROUNDS: '${process.env.BENCH_RESIZE_ROUNDS}' is not 1..1000`);

const QUERY =
  'mutation ($file: Upload!, $fit: Boolean) { uploadRecordPhoto(module: LEADS, recordId: "' +
  RECORD_ID +
  '", file: $file, fitToLimits: $fit) { __typename ... on UploadRecordPhotoSuccess { photo { byteSize width height resized locationRemoved } } ... on CrmError { code message } } }';

/** A photo-like texture: smooth noise, as a camera's sensor and a scene give (a flat picture would decode for free). */
async function texture(width: number, height: number): Promise<Buffer> {
  const coarse = await sharp({ create: { width: width / 4, height: height / 4, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
    .png()
    .toBuffer();
  return sharp(coarse).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
}

async function phoneJpeg(width: number, height: number, progressive = false): Promise<Buffer> {
  return sharp(await texture(width, height), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90, progressive })
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Make: 'BenchPhone' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 2600/100' } })
    .toBuffer();
}

async function gradientPng(width: number, height: number, interlaced = false): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      // Interlaced rows compress far worse: without the x^y pattern the interlaced one stays small (a 25 MP one with it is 16 MiB).
      raw[i + 2] = interlaced ? 0 : ((x ^ y) & 0xff) >> 2;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6, progressive: interlaced }).toBuffer();
}

async function uploadOnce(gateway: Server, file: Buffer, fit: boolean, expectResized: boolean): Promise<number> {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: QUERY, variables: { file: null, fit } }));
  form.set('map', JSON.stringify({ 0: ['variables.file'] }));
  form.set('0', new Blob([new Uint8Array(file)]), 'bench-photo');
  const started = performance.now();
  const response = await fetch(`${gateway.origin}${gateway.path}`, {
    method: 'POST',
    body: form,
    headers: { authorization: `Zoho-oauthtoken ${BENCH_TOKEN}`, 'apollo-require-preflight': 'true' },
  });
  const text = await response.text();
  const elapsed = performance.now() - started;
  const photo = (JSON.parse(text) as { data?: { uploadRecordPhoto?: { photo?: { resized: boolean } } } }).data?.uploadRecordPhoto?.photo;
  if (response.status !== 200 || photo?.resized !== expectResized) throw new Error(`upload failed: HTTP ${response.status} ${text.slice(0, 300)}`);
  return elapsed;
}

interface CellFigures {
  p50Ms: number;
  p99Ms: number;
  cpuPerUpload: number;
  peakRss: number;
  machineBusyShare: number;
}

async function cell(gateway: Server, file: Buffer, concurrency: number, fit: boolean, expectResized: boolean): Promise<CellFigures> {
  await uploadOnce(gateway, file, fit, expectResized); // warm-up
  const latencies: number[] = [];
  const sampler = new RssSampler(gateway.child.pid, 10);
  const cpuStart = cpuSeconds(gateway.child.pid);
  const busyStart = machineBusySeconds();
  const wallStart = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < rounds; i++) latencies.push(await uploadOnce(gateway, file, fit, expectResized));
    }),
  );
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpu = cpuSeconds(gateway.child.pid) - cpuStart;
  const { peak } = sampler.stop();
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    cpuPerUpload: cpu / latencies.length,
    peakRss: peak,
    machineBusyShare: (machineBusySeconds() - busyStart) / wallSeconds,
  };
}

console.log('resize cell: generating the photos…');
const jpeg = await phoneJpeg(4032, 3024);
const png = await gradientPng(5000, 5000);
const within = await phoneJpeg(3000, 2000);
const interlacedPng = await gradientPng(4000, 3000, true);
const progressiveJpeg = await phoneJpeg(4032, 3024, true);
console.log(
  `  12 MP JPEG ${mib(jpeg.length)} · 25 MP PNG ${mib(png.length)} · 6 MP JPEG ${mib(within.length)} · 12 MP interlaced PNG ${mib(interlacedPng.length)} · 12 MP progressive JPEG ${mib(progressiveJpeg.length)}`,
);

const sink = await startSink(settings.root);
// MALLOC_ARENA_MAX=2 as the container image sets it (Dockerfile); BENCH_GATEWAY_ENV=MALLOC_ARENA_MAX=8 shows glibc's default on 2 cores.
const imageEnv: Record<string, string> = { MALLOC_ARENA_MAX: '2', ...settings.gatewayEnv };
const gateway = await startGateway({ root: settings.root, gatewayRoot: settings.gatewayRoot, sinkOrigin: sink.origin, env: imageEnv });
const plain = await startGateway({
  root: settings.root,
  gatewayRoot: settings.gatewayRoot,
  sinkOrigin: sink.origin,
  env: { ...imageEnv, PHOTO_STRIP_LOCATION: 'false' },
});
for (const child of [sink.child, gateway.child, plain.child]) {
  child.onUnexpectedDeath((error) => {
    console.error(`resize cell: FAILED — ${error.message}`);
    process.exit(1);
  });
}
try {
  const idle = await idleRss(gateway.child.pid);
  const plainIdle = await idleRss(plain.child.pid);
  // First, before anything loads sharp: the byte-for-byte path, with and without the location filter.
  console.log('byte-for-byte path: 6 MP JPEG with GPS, within the limits, concurrency 8 (no resize)');
  for (const [name, server, base] of [
    ['location filter on (default)', gateway, idle],
    ['PHOTO_STRIP_LOCATION=false', plain, plainIdle],
  ] as const) {
    const figures = await cell(server, within, 8, false, false);
    console.log(`  ${name.padEnd(30)} p50 ${sig(figures.p50Ms)} ms · CPU ${sig(figures.cpuPerUpload * 1000)} ms/upload · peak RSS growth ${mib(figures.peakRss - base)}`);
  }
  const lane = imageEnv.PHOTO_RESIZE_CONCURRENCY ?? '2';
  console.log(`resize cell: fitToLimits: true, ${rounds} uploads per worker after a warm-up, lane PHOTO_RESIZE_CONCURRENCY=${lane}, MALLOC_ARENA_MAX=${imageEnv.MALLOC_ARENA_MAX}`);
  console.log(`  gateway idle RSS before the first resize: ${mib(idle)} (sharp not loaded yet)`);
  console.log('  photo                   conc   p50 ms   p99 ms   CPU s/upload   peak RSS growth   machine busy (cores)');
  let growthAt8 = 0;
  for (const [name, file] of [
    ['12 MP JPEG', jpeg],
    ['25 MP PNG', png],
    ['12 MP PNG, interlaced', interlacedPng],
    ['12 MP JPEG, progressive', progressiveJpeg],
  ] as const) {
    for (const concurrency of [1, 8]) {
      const figures = await cell(gateway, file, concurrency, true, true);
      const growth = figures.peakRss - idle;
      if (concurrency === 8) growthAt8 = Math.max(growthAt8, growth);
      console.log(
        `  ${name.padEnd(23)} ${String(concurrency).padStart(4)} ${sig(figures.p50Ms).padStart(8)} ${sig(figures.p99Ms).padStart(8)} ${sig(figures.cpuPerUpload).padStart(14)} ${`${mib(growth)}`.padStart(17)} ${sig(figures.machineBusyShare).padStart(22)}`,
      );
    }
  }
  console.log(`  peak RSS growth at concurrency 8 ≤ 256 MiB: ${growthAt8 <= 256 * 1024 * 1024 ? 'PASS' : 'MISS'} (${mib(growthAt8)})`);

} finally {
  await stopAll();
}
