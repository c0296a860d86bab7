import { fileURLToPath } from 'node:url';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { negotiateEncoding, varyOnEncoding, type Body, type ContentEncoding } from './compression.ts';
import { readBundle, type GraphiQLBundle } from './graphiql-bundle.ts';
import { CODE_DIR, PROJECT_DIR } from '../code-location.ts';

// GraphiQL, built by this project from the graphiql packages (graphiql-build.ts, graphiql-app/), served as a small
// page and separate assets: nothing from a CDN. The assets' names carry a hash of their bytes, so browsers keep them
// for a year and ask again only after an upgrade; each comes compressed from the build, with br and gzip. Nothing of
// the bundle is read until the first GraphiQL request: a process with GraphiQL off, or never opened, never holds it.

interface Asset {
  type: string;
  etag: string;
  bodies: Record<ContentEncoding, Body>;
}

interface LoadedBundle {
  roles: Omit<GraphiQLBundle, 'assets'>;
  assets: Map<string, Asset>;
}

/** Where `npm run build` puts the assets, beside the compiled gateway (dist/graphiql-assets/). */
const PREBUILT = fileURLToPath(new URL('graphiql-assets/', CODE_DIR));
// From the source tree only, through a specifier neither compiler nor bundler follows: the build has no bundler in it.
const BUILDER = new URL('http/graphiql-build.ts', CODE_DIR).href;
const BUILD_CACHE = fileURLToPath(new URL('node_modules/.cache/graphiql-assets/', PROJECT_DIR));

/** Where assets are asked for: relative to the page, so the gateway may sit under any path prefix. */
const ASSET_DIRECTORY = 'graphiql/assets/';
const ASSET_PATH = /\/graphiql\/assets\/([\w.-]+)$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

const TYPES: Record<string, string> = {
  js: 'application/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  ttf: 'font/ttf',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside a `<script>`: no `</script>` (nor `<!--`) can end or bend the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export class GraphiQLMissingError extends Error {
  override name = 'GraphiQLMissingError';
}

async function loadBundle(): Promise<GraphiQLBundle> {
  const prebuilt = await readBundle(PREBUILT);
  if (prebuilt) return prebuilt;
  let builder: { cachedGraphiQL(cacheRoot: string): Promise<GraphiQLBundle> };
  try {
    builder = (await import(BUILDER)) as typeof builder;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_UNKNOWN_FILE_EXTENSION' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new GraphiQLMissingError(
      `GraphiQL cannot be served: this build has no GraphiQL assets (${PREBUILT}) and cannot bundle them ` +
        `(${(error as Error).message.split('\n')[0]}). Run \`npm run build\` (or \`npm ci\` in a source tree), or set GRAPHIQL=false.`,
    );
  }
  return builder.cachedGraphiQL(BUILD_CACHE);
}

/** How long a failure to load the bundle is answered from memory before the next request tries again. */
const RETRY_AFTER_MS = 30_000;

export class GraphiQLPage {
  private loaded: Promise<LoadedBundle> | null = null;

  private readonly endpoint: string;
  private readonly options: GraphiQLOptions;
  private readonly log: (message: string) => void;

  /**
   * `endpoint`: where GraphQL is served (the page is too, to a browser); `options`: GraphiQL's (title, headers,
   * tabs); `log`: where a failure to load the bundle is told, once per attempt (the client gets a 503, no details).
   */
  constructor(endpoint: string, options: GraphiQLOptions, log: (message: string) => void = console.error) {
    this.endpoint = endpoint;
    this.options = options;
    this.log = log;
  }

  /** The page: a couple of kilobytes that name the assets. */
  private page({ roles }: LoadedBundle): string {
    const options = this.options;
    const url = (name: string) => ASSET_DIRECTORY + name;
    const workers = {
      editorWorkerService: url(roles.workers.editorWorkerService),
      json: url(roles.workers.json),
      graphql: url(roles.workers.graphql),
    };
    return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options?.title || 'GraphiQL')}</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${url(roles.stylesheet)}" />
    <style>body { margin: 0; } #root { height: 100vh; }</style>
  </head>
  <body>
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script id="graphiql-options" type="application/json">${scriptJson(options ?? {})}</script>
    <script>
      const workers = ${scriptJson(workers)};
      self.MonacoEnvironment = { getWorkerUrl: (moduleId, label) => workers[label] ?? workers.editorWorkerService };
    </script>
    <script src="${url(roles.script)}"></script>
  </body>
</html>
`;
  }

  /**
   * Serves the page at the endpoint to a GET that prefers HTML to JSON (Yoga's own GraphiQL would take any Accept
   * that mentions text/html, even `text/html;q=0.1, application/json` from a client that wants a GraphQL answer),
   * and `…/graphiql/assets/{name}` (GET and HEAD), before anything else looks at the request.
   */
  plugin(): Plugin {
    return {
      onRequest: async ({ request, url, endResponse, fetchAPI }) => {
        if (request.method !== 'GET' && request.method !== 'HEAD') return;
        const isPage = (url.pathname === this.endpoint || url.pathname === `${this.endpoint}/`) && prefersHtml(request.headers.get('accept'));
        const match = isPage ? null : ASSET_PATH.exec(url.pathname);
        if (!isPage && !match) return;
        const bundle = await this.loadOrRefusal();
        if (bundle instanceof Response) {
          endResponse(bundle);
          return;
        }
        if (isPage) {
          const html = this.page(bundle);
          endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : html, {
            headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(html)), 'cache-control': 'no-cache' },
          }));
          return;
        }
        const asset = bundle.assets.get(match?.[1] ?? '');
        if (!asset) {
          endResponse(new fetchAPI.Response('No such GraphiQL asset.', { status: 404, headers: { 'content-type': 'text/plain' } }));
          return;
        }
        const headers = new fetchAPI.Headers({ 'cache-control': IMMUTABLE, etag: asset.etag, 'content-type': asset.type });
        varyOnEncoding(headers);
        if (ifNoneMatch(request.headers.get('if-none-match'), asset.etag)) {
          endResponse(new fetchAPI.Response(null, { status: 304, headers }));
          return;
        }
        const encoding = negotiateEncoding(request.headers.get('accept-encoding'));
        const body = asset.bodies[encoding];
        if (encoding !== 'identity') headers.set('content-encoding', encoding);
        headers.set('content-length', String(body.byteLength));
        endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : body, { status: 200, headers }));
      },
    };
  }

  /** The bundle, or the 503 a client gets while it cannot be loaded (the reason goes to the log, not the client). */
  private async loadOrRefusal(): Promise<LoadedBundle | Response> {
    try {
      return await this.load();
    } catch {
      return new Response('GraphiQL is unavailable on this server: see its log.', {
        status: 503,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(RETRY_AFTER_MS / 1000) },
      });
    }
  }

  private load(): Promise<LoadedBundle> {
    this.loaded ??= (async () => {
      const { assets, ...roles } = await loadBundle();
      const entries = assets.map(({ name, bytes, br, gzip }): [string, Asset] => {
        const type = TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
        // The name holds a hash of the bytes; weak, since the three codings of them share it (RFC 9110 §8.8.3).
        return [name, { type, etag: `W/"${name}"`, bodies: { identity: bytes as Body, br: br as Body, gzip: gzip as Body } }];
      });
      return { roles, assets: new Map(entries) };
    })();
    this.loaded.catch((error: unknown) => {
      this.log(error instanceof Error ? error.message : String(error));
      // Told once; answered from memory for a while, then the next request tries again.
      setTimeout(() => (this.loaded = null), RETRY_AFTER_MS).unref();
    });
    return this.loaded;
  }
}

function ifNoneMatch(header: string | null, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** Whether an Accept header weighs HTML (text/html or text/*) above every JSON type it names (RFC 9110 §12.5.1). */
export function prefersHtml(accept: string | null): boolean {
  let html: number | undefined;
  let anyText: number | undefined;
  let json = 0;
  for (const range of (accept ?? '').split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2)) || 0;
    // The most specific range decides: text/html over text/*.
    if (type === 'text/html') html = Math.max(html ?? 0, weight);
    if (type === 'text/*') anyText = Math.max(anyText ?? 0, weight);
    if (type === 'application/json' || type === 'application/graphql-response+json') json = Math.max(json, weight);
  }
  const htmlWeight = html ?? anyText ?? 0;
  return htmlWeight > 0 && htmlWeight >= json;
}
