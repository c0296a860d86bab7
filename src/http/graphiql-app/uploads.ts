// A file picker for each `Upload` variable of the operation in GraphiQL's editor, and a fetcher that sends an
// operation with picked files as a GraphQL multipart request. Bundled into the page's script (app.tsx).

type RenderGraphiQL = (root: Element, options: Record<string, unknown>) => void;
interface UploadVariable {
  name: string;
  list: boolean;
}

/**
 * Wraps GraphiQL's render (app.tsx): a panel above GraphiQL lists the Upload variables, and a custom fetcher posts
 * JSON, or multipart (operations, map, the files) with `apollo-require-preflight: true` when files are picked.
 */
export function withUploads(render: RenderGraphiQL): RenderGraphiQL {
  return (root, options) => {
    const picked = new Map<string, File[]>();
    const inputs = new Map<string, HTMLElement>();
    const style = document.createElement('style');
    style.textContent = `
      #graphiql-uploads { height: 40px; box-sizing: border-box; display: flex; align-items: center; gap: 16px;
        padding: 0 12px; font: 13px system-ui, sans-serif; background: #f3f4f6; color: #111827; border-bottom: 1px solid #d1d5db; }
      #graphiql-uploads label { display: flex; align-items: center; gap: 6px; font-family: monospace; }
      .graphiql-container { height: calc(100vh - 40px) !important; }`;
    document.head.append(style);
    const panel = document.createElement('div');
    panel.id = 'graphiql-uploads';
    panel.setAttribute('role', 'region');
    panel.setAttribute('aria-label', 'Upload variables');
    root.before(panel);

    /** The Upload variables an operation's text declares (comments and strings ignored), for the panel. */
    function strip(query: string): string {
      return query.replace(/"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|#[^\n]*/g, ' ');
    }
    function scan(query: string): UploadVariable[] {
      const text = strip(query);
      const found: UploadVariable[] = [];
      for (const match of text.matchAll(/\$\s*([_A-Za-z][_0-9A-Za-z]*)\s*:\s*(\[\s*)?Upload\b/g)) {
        const name = match[1] ?? '';
        if (!found.some((v) => v.name === name)) found.push({ name, list: match[2] !== undefined });
      }
      return found;
    }

    /** The Upload variables of the operation GraphiQL runs, from the document it parsed. */
    function uploadVariablesOf(doc: any, operationName: string | null | undefined): UploadVariable[] {
      const operations = (doc?.definitions ?? []).filter((d: any) => d.kind === 'OperationDefinition');
      const operation = operationName
        ? operations.find((o: any) => o.name?.value === operationName)
        : operations.length === 1 ? operations[0] : undefined;
      const found: UploadVariable[] = [];
      for (const definition of operation?.variableDefinitions ?? []) {
        let type = definition.type;
        if (type.kind === 'NonNullType') type = type.type;
        const list = type.kind === 'ListType';
        if (list) type = type.type.kind === 'NonNullType' ? type.type.type : type.type;
        if (type.kind === 'NamedType' && type.name.value === 'Upload') found.push({ name: definition.variable.name.value, list });
      }
      return found;
    }

    function show(variables: UploadVariable[]): void {
      const key = variables.map((v) => `${v.name}${v.list ? '[]' : ''}`).join(',');
      if (panel.dataset.variables === key && panel.childElementCount > 0) return;
      panel.dataset.variables = key;
      panel.replaceChildren();
      if (variables.length === 0) {
        panel.append('No Upload variable in this operation. Declare one ($file: Upload!) to pick a file here.');
        return;
      }
      panel.append('Files for Upload variables:');
      for (const variable of variables) {
        let label = inputs.get(variable.name + (variable.list ? '[]' : ''));
        if (!label) {
          label = document.createElement('label');
          const input = document.createElement('input');
          input.type = 'file';
          input.multiple = variable.list;
          input.setAttribute('aria-label', `$${variable.name}`);
          input.addEventListener('change', () => picked.set(variable.name, [...(input.files ?? [])]));
          label.append(`$${variable.name}`, input);
          inputs.set(variable.name + (variable.list ? '[]' : ''), label);
        }
        panel.append(label);
      }
    }

    const defaultTabs = options.defaultTabs as { query?: string; variables?: string }[] | undefined;
    function storedQuery(): string | undefined {
      try {
        const stored = JSON.parse(localStorage.getItem('graphiql:tabState') ?? 'null');
        const query = stored?.tabs?.[stored.activeTabIndex ?? 0]?.query;
        return typeof query === 'string' ? query : undefined;
      } catch {
        return undefined;
      }
    }
    const stored = storedQuery();

    const endpoint = new URL((options.endpoint as string | undefined) ?? location.pathname, location.href).toString();
    async function fetcher(
      params: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
      fetchOptions?: { headers?: Record<string, unknown>; documentAST?: unknown },
    ): Promise<unknown> {
      const headers: Record<string, string> = { accept: 'application/graphql-response+json, application/json' };
      const given = { ...(options.additionalHeaders as object | undefined), ...fetchOptions?.headers };
      for (const [name, value] of Object.entries(given)) {
        if (name.toLowerCase() !== 'content-type' && value != null) headers[name] = String(value);
      }
      // Right after a tab switch GraphiQL may hand over the previous tab's document and operation name: use them
      // only when they match the query sent.
      const documentAST = fetchOptions?.documentAST as { loc?: { source?: { body?: string } } } | undefined;
      const current = documentAST?.loc?.source?.body === params.query;
      const operationName = params.operationName;
      if (operationName && !new RegExp(`\\b(query|mutation|subscription)\\s+${operationName}\\b`).test(strip(params.query))) {
        params = { ...params, operationName: null };
      }
      const uploads = current ? uploadVariablesOf(documentAST, params.operationName) : scan(params.query);
      let body: string | FormData;
      if (uploads.length === 0) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(params);
      } else {
        const variables: Record<string, unknown> = { ...params.variables };
        const map: Record<string, string[]> = {};
        const files: File[] = [];
        for (const { name, list } of uploads) {
          const chosen = picked.get(name) ?? [];
          if (list) {
            variables[name] = chosen.map(() => null);
            chosen.forEach((file, i) => {
              map[String(files.length)] = [`variables.${name}.${i}`];
              files.push(file);
            });
          } else if (chosen[0]) {
            variables[name] = null;
            map[String(files.length)] = [`variables.${name}`];
            files.push(chosen[0]);
          } else if (variables[name] === undefined) {
            return { errors: [{ message: `Pick a file for $${name} in the bar above the editor, then run again.` }] };
          }
        }
        body = new FormData();
        body.append('operations', JSON.stringify({ ...params, variables }));
        body.append('map', JSON.stringify(map));
        files.forEach((file, i) => (body as FormData).append(String(i), file, file.name));
        // A multipart request must carry it (CSRF protection); the browser sets content-type and its boundary.
        headers['apollo-require-preflight'] = 'true';
      }
      const response = await fetch(endpoint, { method: 'POST', headers, body, credentials: 'same-origin' });
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch {
        return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 500)}` }] };
      }
    }

    show(scan(stored ?? defaultTabs?.[0]?.query ?? (options.defaultQuery as string | undefined) ?? ''));
    render(root, {
      ...options,
      // GraphiQL gives the first tab its initial variables (none) rather than the default tab's: hand them over.
      ...(stored === undefined && defaultTabs?.[0]?.variables ? { variables: defaultTabs[0].variables } : {}),
      fetcher,
      onEditQuery: (query: string) => show(scan(query)),
      onTabChange: (state: { tabs: { query: string | null }[]; activeTabIndex: number }) =>
        show(scan(state.tabs[state.activeTabIndex]?.query ?? '')),
    });
  };
}
