import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { compress, negotiateEncoding, varyOnEncoding, type Body, type ContentEncoding } from './compression.ts';
import { UPLOADS_SCRIPT } from './graphiql-uploads.ts';

// GraphiQL as Yoga bundles it (from npm: the page needs no network beyond this server), served as a small page
// and separate assets. The assets' names carry a digest of what they hold, so browsers keep them for a year and
// ask again only after an upgrade; each is compressed once, with br and gzip, the first time anyone asks. Nothing
// of the bundle (9 MB) is loaded until then: a production process with GraphiQL off never holds it.

type Bundle = typeof import('@graphql-yoga/render-graphiql/graphiql');

interface AssetSource {
  type: string;
  bytes(bundle: Bundle): Body;
}

interface Asset {
  type: string;
  etag: string;
  bodies: Record<ContentEncoding, Body>;
}

const FAVICON_DATA_URL = 'data:image/x-icon;base64,';

const SOURCES = {
  css: { type: 'text/css; charset=utf-8', bytes: (b) => bytes(b.css) },
  js: { type: 'application/javascript; charset=utf-8', bytes: (b) => bytes(b.js) },
  uploads: { type: 'application/javascript; charset=utf-8', bytes: () => bytes(UPLOADS_SCRIPT) },
  editorWorker: { type: 'application/javascript; charset=utf-8', bytes: (b) => bytes(b.editorWorkerService) },
  jsonWorker: { type: 'application/javascript; charset=utf-8', bytes: (b) => bytes(b.jsonWorker) },
  graphqlWorker: { type: 'application/javascript; charset=utf-8', bytes: (b) => bytes(b.graphqlWorker) },
  favicon: {
    type: 'image/x-icon',
    bytes: (b) => bytes(b.favicon.startsWith(FAVICON_DATA_URL) ? b.favicon.slice(FAVICON_DATA_URL.length) : '', 'base64'),
  },
} satisfies Record<string, AssetSource>;
type AssetKey = keyof typeof SOURCES;

const EXTENSIONS: Record<AssetKey, string> = {
  css: 'graphiql.css',
  js: 'graphiql.js',
  uploads: 'uploads.js',
  editorWorker: 'editor.worker.js',
  jsonWorker: 'json.worker.js',
  graphqlWorker: 'graphql.worker.js',
  favicon: 'favicon.ico',
};

/** Where assets are asked for: relative to the page, so the gateway may sit under any path prefix. */
const ASSET_DIRECTORY = 'graphiql/assets/';
const ASSET_PATH = /\/graphiql\/assets\/([\w.-]+)$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** The installed bundle's version with the upload script: a new name for every asset whenever either changes. */
function assetDigest(): string {
  const packageJson = new URL('../package.json', import.meta.resolve('@graphql-yoga/render-graphiql'));
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  return createHash('sha256').update(version).update(UPLOADS_SCRIPT).digest('hex').slice(0, 12);
}

function bytes(text: string, encoding?: BufferEncoding): Body {
  return Buffer.from(text, encoding) as Body;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON inside a `<script>`: no `</script>` (nor `<!--`) can end or bend the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export class GraphiQLPage {
  readonly names: Record<AssetKey, string>;
  private readonly byName: Map<string, AssetKey>;
  private assets: Promise<Map<AssetKey, Asset>> | null = null;

  constructor() {
    const digest = assetDigest();
    this.names = Object.fromEntries(
      Object.entries(EXTENSIONS).map(([key, file]) => [key, file.replace(/\.(\w+)$/, `.${digest}.$1`)]),
    ) as Record<AssetKey, string>;
    this.byName = new Map(Object.entries(this.names).map(([key, name]) => [name, key as AssetKey]));
  }

  /** The page: a few kilobytes that name the assets. For Yoga's `renderGraphiQL`. */
  readonly render = (options?: GraphiQLOptions): string => {
    const url = (key: AssetKey) => ASSET_DIRECTORY + this.names[key];
    const workers = { editorWorkerService: url('editorWorker'), json: url('jsonWorker'), graphql: url('graphqlWorker') };
    return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options?.title || 'GraphiQL')}</title>
    <link rel="icon" href="${url('favicon')}" />
    <link rel="stylesheet" href="${url('css')}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      const workers = ${scriptJson(workers)};
      self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
    </script>
    <script src="${url('js')}"></script>
    <script src="${url('uploads')}"></script>
    <script>
      GraphiQLUploads(YogaGraphiQL.renderYogaGraphiQL)(document.querySelector('#root'), ${scriptJson(options ?? {})});
    </script>
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
        const key = this.byName.get(match[1] ?? '');
        if (!key) {
          endResponse(new fetchAPI.Response('No such GraphiQL asset.', { status: 404, headers: { 'content-type': 'text/plain' } }));
          return;
        }
        const asset = (await this.load()).get(key)!;
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

  private load(): Promise<Map<AssetKey, Asset>> {
    this.assets ??= (async () => {
      const bundle = await import('@graphql-yoga/render-graphiql/graphiql');
      const entries = await Promise.all(
        (Object.keys(SOURCES) as AssetKey[]).map(async (key): Promise<[AssetKey, Asset]> => {
          const source: AssetSource = SOURCES[key];
          const identity = source.bytes(bundle);
          const [br, gzip] = await Promise.all([compress(identity, 'br', 'small'), compress(identity, 'gzip', 'small')]);
          const etag = `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`;
          return [key, { type: source.type, etag, bodies: { identity, br, gzip } }];
        }),
      );
      return new Map(entries);
    })().catch((error: unknown) => {
      this.assets = null; // the next request tries again
      throw error;
    });
    return this.assets;
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
