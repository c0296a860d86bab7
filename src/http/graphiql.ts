import { fileURLToPath } from 'node:url';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { compress, negotiateEncoding, varyOnEncoding, type Body, type ContentEncoding } from './compression.ts';
import { readBundle, type GraphiQLBundle } from './graphiql-bundle.ts';

// GraphiQL, built by this project from the graphiql packages (graphiql-build.ts, graphiql-app/), served as a small
// page and separate assets: nothing from a CDN. The assets' names carry a hash of their bytes, so browsers keep them
// for a year and ask again only after an upgrade; each is compressed once, with br and gzip, the first time anyone
// asks. Nothing of the bundle is read until then: a process with GraphiQL off, or never opened, never holds it.

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
const PREBUILT = fileURLToPath(new URL('../graphiql-assets/', import.meta.url));
// From the source tree only, through a specifier the compiler does not follow: the build has no bundler in it.
const BUILDER = new URL('./graphiql-build.ts', import.meta.url).href;
const BUILD_CACHE = fileURLToPath(new URL('../../node_modules/.cache/graphiql-assets/', import.meta.url));

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
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    throw new GraphiQLMissingError(`This build has no GraphiQL assets (${PREBUILT}): build it with \`npm run build\`, or set GRAPHIQL=false.`);
  }
  return builder.cachedGraphiQL(BUILD_CACHE);
}

export class GraphiQLPage {
  private loaded: Promise<LoadedBundle> | null = null;

  /** The page: a couple of kilobytes that name the assets. For Yoga's `renderGraphiQL`. */
  readonly render = async (options?: GraphiQLOptions): Promise<string> => {
    const { roles } = await this.load();
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
  };

  /**
   * Yoga's `graphiql` option: the page for a client that prefers HTML to JSON. Yoga alone serves it to any Accept
   * that mentions text/html, even `text/html;q=0.1, application/json` from a client that wants a GraphQL answer.
   */
  optionsFor(options: GraphiQLOptions): (request: Request) => GraphiQLOptions | false {
    return (request) => (prefersHtml(request.headers.get('accept')) ? options : false);
  }

  /** Serves `…/graphiql/assets/{name}` (GET and HEAD), before anything else looks at the request. */
  plugin(): Plugin {
    return {
      onRequest: async ({ request, url, endResponse, fetchAPI }) => {
        const match = ASSET_PATH.exec(url.pathname);
        if (!match || (request.method !== 'GET' && request.method !== 'HEAD')) return;
        const asset = (await this.load()).assets.get(match[1] ?? '');
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

  private load(): Promise<LoadedBundle> {
    this.loaded ??= (async () => {
      const { assets, ...roles } = await loadBundle();
      const entries = await Promise.all(
        assets.map(async ({ name, bytes }): Promise<[string, Asset]> => {
          const identity = bytes as Body;
          const [br, gzip] = await Promise.all([compress(identity, 'br', 'small'), compress(identity, 'gzip', 'small')]);
          const type = TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
          // The name already holds a hash of the bytes.
          return [name, { type, etag: `"${name}"`, bodies: { identity, br, gzip } }];
        }),
      );
      return { roles, assets: new Map(entries) };
    })().catch((error: unknown) => {
      this.loaded = null; // the next request tries again
      throw error;
    });
    return this.loaded;
  }
}

function ifNoneMatch(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
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
