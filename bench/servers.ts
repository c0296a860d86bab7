/** Starts each process the bench needs, on loopback, and knows where to reach it. */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { CRM_PATH } from './bodies.ts';
import { Child, startChild } from './children.ts';

export interface Server {
  child: Child;
  origin: string;
  /** Where uploads go: /graphql on the gateways, the CRM photo path on the sink. */
  path: string;
}

interface Ready {
  port: number;
}

export async function startSink(root: string): Promise<Server> {
  const { child, ready } = await startChild<Ready>({ name: 'CRM sink', module: 'bench/sink.ts', cwd: root, ready: { announce: 'ready' } });
  return { child, origin: `http://127.0.0.1:${ready.port}`, path: CRM_PATH };
}

export async function startLoadGenerator(root: string): Promise<Child> {
  const { child } = await startChild({ name: 'load generator', module: 'bench/load.ts', cwd: root, ready: { announce: 'ready' } });
  return child;
}

export interface GatewayOptions {
  /** The bench's project root (for bench/watchdog.ts). */
  root: string;
  /** The checkout whose src/main.ts runs: this project unless BENCH_GATEWAY_ROOT names another (A/B runs). */
  gatewayRoot: string;
  sinkOrigin: string;
  env?: Record<string, string>;
  /** Runs it under --cpu-prof, writing there. */
  profileDir?: string;
  /** More Node flags, e.g. diagnostics preloads. */
  execArgv?: string[];
}

/** The real gateway, `node src/main.ts`, pointed at the sink. */
export async function startGateway(options: GatewayOptions): Promise<Server> {
  const { root, gatewayRoot, sinkOrigin } = options;
  const watchdog = pathToFileURL(`${root}bench/watchdog.ts`).href;
  // The banner is an info line: a gateway told to log less (LOG_LEVEL=warn, for an A/B of the logs) prints nothing,
  // so it gets a port chosen here and is ready when its liveness probe answers.
  const quiet = /^(warn|error|fatal|silent)$/i.test(options.env?.LOG_LEVEL ?? '');
  if (quiet) {
    const port = await freePort();
    const { child } = await startChild({
      name: 'gateway (src/main.ts)',
      module: `${gatewayRoot.replace(/\/?$/, '/')}src/main.ts`,
      cwd: gatewayRoot,
      execArgv: ['--import', watchdog, ...profileArgs(options.profileDir), ...(options.execArgv ?? [])],
      env: { ...gatewayEnv(options), PORT: String(port) },
      ready: { poll: `http://127.0.0.1:${port}/health/live` },
    });
    return { child, origin: `http://127.0.0.1:${port}`, path: '/graphql' };
  }
  const { child, ready } = await startChild<RegExpMatchArray>({
    name: 'gateway (src/main.ts)',
    module: `${gatewayRoot.replace(/\/?$/, '/')}src/main.ts`,
    cwd: gatewayRoot,
    execArgv: ['--import', watchdog, ...profileArgs(options.profileDir), ...(options.execArgv ?? [])],
    env: gatewayEnv(options),
    ready: { stdout: /(https?:\/\/[^\s/]+)\/graphql/ },
  });
  // The banner names the CRM it calls: make sure it is the sink and not the embedded emulator.
  await child.waitForOutput(new RegExp(`CRM: ${sinkOrigin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 5_000).catch(() => {
    throw new Error(`the gateway does not say it calls the sink at ${sinkOrigin}; its banner:\n${child.output}`);
  });
  return { child, origin: ready[1]!, path: '/graphql' };
}

/** NODE_ENV and NODE_OPTIONS as the container image sets them (Dockerfile); BENCH_GATEWAY_ENV may override them. */
function gatewayEnv(options: GatewayOptions): Record<string, string> {
  return {
    NODE_ENV: 'production',
    NODE_OPTIONS: '--max-semi-space-size=2',
    // Off here, as 9464 may be taken; BENCH_GATEWAY_ENV may turn it on (METRICS_PORT=<a free port>).
    METRICS_PORT: '0',
    // The load generator is one token standing for many users: its share of the CRM slots is lifted.
    CRM_MAX_CONCURRENCY_PER_CALLER: '1000',
    ...options.env,
    PORT: '0',
    HOST: '127.0.0.1',
    ZOHO_API_DOMAIN: options.sinkOrigin,
  };
}

/** A free loopback port, asked of the OS. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function profileArgs(profileDir: string | undefined): string[] {
  return profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
}

async function startForwarder(root: string, name: string, module: string, sinkOrigin: string, profileDir?: string, env: Record<string, string> = {}): Promise<Server> {
  const { child, ready } = await startChild<Ready>({
    name,
    module,
    cwd: root,
    env: { NODE_ENV: 'production', ...env, SINK_ORIGIN: sinkOrigin },
    execArgv: profileArgs(profileDir),
    ready: { announce: 'ready' },
  });
  return { child, origin: `http://127.0.0.1:${ready.port}`, path: '/graphql' };
}

export function startRawProxy(root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  return startForwarder(root, 'raw proxy', 'bench/raw-proxy.ts', sinkOrigin, profileDir);
}

/** The stack's floor: Yoga + graphql-upload-minimal + undici and nothing else, with the gateway's Node options. */
export function startYogaForwarder(root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  return startForwarder(root, 'Yoga floor', 'bench/yoga-forwarder.ts', sinkOrigin, profileDir, { NODE_OPTIONS: '--max-semi-space-size=2' });
}

export function startBufferingGateway(root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  return startForwarder(root, 'buffering gateway', 'bench/buffering-gateway.ts', sinkOrigin, profileDir);
}

/** Peer: Express + Apollo Server + graphql-upload (fs-capacitor) + undici. */
export function startApolloPeer(root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  return startForwarder(root, 'Apollo + graphql-upload peer', 'bench/peers/apollo-upload.ts', sinkOrigin, profileDir);
}

/** Peer: Express + multer (memory storage) + undici fetch/FormData. */
export function startMulterPeer(root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  return startForwarder(root, 'Express + multer peer', 'bench/peers/multer-rest.ts', sinkOrigin, profileDir);
}

/** Starts the server of a path other than `gateway` and `direct`. */
export function startPeerOrFloor(path: 'raw' | 'yoga' | 'buffering' | 'apollo' | 'multer', root: string, sinkOrigin: string, profileDir?: string): Promise<Server> {
  switch (path) {
    case 'raw':
      return startRawProxy(root, sinkOrigin, profileDir);
    case 'yoga':
      return startYogaForwarder(root, sinkOrigin, profileDir);
    case 'buffering':
      return startBufferingGateway(root, sinkOrigin, profileDir);
    case 'apollo':
      return startApolloPeer(root, sinkOrigin, profileDir);
    case 'multer':
      return startMulterPeer(root, sinkOrigin, profileDir);
  }
}
