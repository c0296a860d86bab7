import { GraphiQL } from 'graphiql';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import { withUploads } from './uploads.ts';

// The GraphiQL page's script, bundled by ../graphiql-build.ts from the graphiql packages. It renders GraphiQL into
// the page's root with the options the server wrote into the page, wrapped by the upload panel (uploads.ts): its
// file pickers and multipart fetcher.

type Fetcher = NonNullable<Parameters<typeof GraphiQL>[0]['fetcher']>;

export interface GraphiQLPageOptions {
  title?: string;
  /** The headers editor's first contents (JSON text). */
  headers?: string;
  defaultTabs?: { query: string; variables?: string }[];
  /** The first tab's variables, when no tab is stored. */
  variables?: string;
  fetcher: Fetcher;
  onEditQuery?: (query: string) => void;
  onTabChange?: (state: { tabs: { query: string | null }[]; activeTabIndex: number }) => void;
}

function render(root: Element, options: GraphiQLPageOptions): void {
  createRoot(root).render(
    createElement(GraphiQL, {
      fetcher: options.fetcher,
      // The server's headers (the emulator's token) in every tab: the default ones and any opened later.
      ...(options.defaultTabs ? { defaultTabs: options.defaultTabs.map((tab) => ({ headers: options.headers ?? null, ...tab })) } : {}),
      ...(options.headers ? { initialHeaders: options.headers, defaultHeaders: options.headers } : {}),
      ...(options.variables ? { initialVariables: options.variables } : {}),
      ...(options.onEditQuery ? { onEditQuery: options.onEditQuery } : {}),
      ...(options.onTabChange ? { onTabChange: options.onTabChange as never } : {}),
      // Open on the variables: the upload's module and record id are the first thing to change.
      defaultEditorToolsVisibility: 'variables',
    }),
  );
}

const page = document.getElementById('graphiql-options');
const root = document.getElementById('root');
if (page?.textContent && root) {
  withUploads(render as unknown as (root: Element, options: Record<string, unknown>) => void)(root, JSON.parse(page.textContent));
}
