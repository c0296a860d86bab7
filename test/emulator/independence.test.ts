/**
 * The emulator stands beside the gateway as a stand-in CRM: it loads nothing from src/ (so tests that run the
 * gateway against it compare two independent implementations), and the production build compiles none of it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server-build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EMULATOR_DIR = join(ROOT, 'emulator');
const SRC_DIR = join(ROOT, 'src');

interface Load {
  /** The module specifier, or null when it is computed at run time and cannot be checked. */
  specifier: string | null;
  /** Whether the TypeScript compiler follows it into the program (an import it can see), or only Node does. */
  compilerFollows: boolean;
}

function literal(node: ts.Node | undefined): string | null {
  return node !== undefined && ts.isStringLiteralLike(node) ? node.text : null;
}

function isImportMeta(node: ts.Node): boolean {
  return ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword && node.name.text === 'meta';
}

/**
 * Every module a source file loads: static imports and re-exports, `import x = require()`, import types,
 * `import()` and `require()` calls, `import.meta.resolve()`, and files located with `new URL(path, import.meta.url)`.
 */
function loadsOf(fileName: string, text: string): Load[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const loads: Load[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      loads.push({ specifier: literal(node.moduleSpecifier), compilerFollows: true });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      loads.push({ specifier: literal(node.moduleReference.expression), compilerFollows: true });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      loads.push({ specifier: literal(node.argument.literal), compilerFollows: true });
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const first = node.arguments[0];
      if (callee.kind === ts.SyntaxKind.ImportKeyword) {
        loads.push({ specifier: literal(first), compilerFollows: literal(first) !== null });
      } else if (ts.isIdentifier(callee) && callee.text === 'require') {
        loads.push({ specifier: literal(first), compilerFollows: literal(first) !== null });
      } else if (ts.isPropertyAccessExpression(callee) && isImportMeta(callee.expression) && callee.name.text === 'resolve') {
        loads.push({ specifier: literal(first), compilerFollows: false });
      }
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL') {
      const base = node.arguments?.[1];
      if (base !== undefined && ts.isPropertyAccessExpression(base) && isImportMeta(base.expression) && base.name.text === 'url') {
        loads.push({ specifier: literal(node.arguments?.[0]), compilerFollows: false });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return loads;
}

/** The file a path-like specifier points at, or undefined for a package name (node:fs, image-size …). */
function targetOf(fromFile: string, specifier: string): string | undefined {
  if (specifier.startsWith('file:')) return fileURLToPath(specifier);
  if (specifier.startsWith('/')) return specifier;
  if (specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../')) {
    return resolve(dirname(fromFile), specifier);
  }
  return undefined;
}

function isInside(dir: string, file: string): boolean {
  return file === dir || file.startsWith(dir + sep);
}

/** What `file` loads from outside `dir`, as readable lines; packages are fine, `#` imports and the project's own name are not. */
function escapes(file: string, dir: string, text: string, only: (load: Load) => boolean = () => true): string[] {
  const own = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;
  const problems: string[] = [];
  for (const load of loadsOf(file, text).filter(only)) {
    const where = relative(ROOT, file);
    if (load.specifier === null) {
      problems.push(`${where}: loads a module whose name is computed at run time`);
      continue;
    }
    const target = targetOf(file, load.specifier);
    const outside =
      target !== undefined
        ? !isInside(dir, target)
        : load.specifier.startsWith('#') || load.specifier === own || load.specifier.startsWith(`${own}/`);
    if (outside) problems.push(`${where}: loads ${load.specifier}`);
  }
  return problems;
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.[cm]?tsx?$/.test(name))
    .map((name) => join(dir, name))
    .sort();
}

describe('the load scanner', () => {
  const file = join(EMULATOR_DIR, 'planted.ts');
  const planted = [
    "import { a } from '../src/a.ts';",
    "import type { B } from '../src/b.ts';",
    "import '../src/c.ts';",
    "export { d } from '../src/d.ts';",
    "export * from '../src/e.ts';",
    "import f = require('../src/f.ts');",
    "type G = typeof import('../src/g.ts');",
    "const h = await import('../src/h.ts');",
    "const i = require('../src/i.ts');",
    "const j = new URL('../src/j.ts', import.meta.url);",
    "const k = import.meta.resolve('../src/k.ts');",
    "const l = await import(someName);",
    `const m = await import(${JSON.stringify(new URL('../../src/m.ts', import.meta.url).href)});`,
    "import { n } from '#internal';",
    "import { o } from './sibling.ts';",
    "import { p } from 'image-size';",
    "// import { q } from '../src/q.ts';",
    "const r = '../src/r.ts';",
  ].join('\n');

  it('finds every way a file can load a module outside its folder, and nothing else', () => {
    expect(escapes(file, EMULATOR_DIR, planted)).toEqual([
      'emulator/planted.ts: loads ../src/a.ts',
      'emulator/planted.ts: loads ../src/b.ts',
      'emulator/planted.ts: loads ../src/c.ts',
      'emulator/planted.ts: loads ../src/d.ts',
      'emulator/planted.ts: loads ../src/e.ts',
      'emulator/planted.ts: loads ../src/f.ts',
      'emulator/planted.ts: loads ../src/g.ts',
      'emulator/planted.ts: loads ../src/h.ts',
      'emulator/planted.ts: loads ../src/i.ts',
      'emulator/planted.ts: loads ../src/j.ts',
      'emulator/planted.ts: loads ../src/k.ts',
      'emulator/planted.ts: loads a module whose name is computed at run time',
      `emulator/planted.ts: loads ${new URL('../../src/m.ts', import.meta.url).href}`,
      'emulator/planted.ts: loads #internal',
    ]);
  });
});

describe('the emulator', () => {
  const files = tsFilesUnder(EMULATOR_DIR);

  it('has its sources under emulator/', () => {
    expect(files.map((file) => relative(ROOT, file))).toContain(join('emulator', 'server.ts'));
  });

  it('loads nothing from outside emulator/ but packages, so nothing from src/', () => {
    const problems = files.flatMap((file) => escapes(file, EMULATOR_DIR, readFileSync(file, 'utf8')));
    expect(problems).toEqual([]);
  });
});

describe('the production build (tsconfig.build.json\'s type check, then the bundle)', () => {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error('tsconfig.build.json could not be read');

  it('type-checks src/ only', () => {
    expect(parsed.errors).toEqual([]);
    expect(parsed.fileNames).toContain(join(SRC_DIR, 'main.ts'));
    expect(parsed.fileNames.filter((file) => !isInside(SRC_DIR, file))).toEqual([]);
    expect(parsed.options.paths).toBeUndefined();
  });

  it('pulls in nothing outside src/ through an import the compiler follows (the emulator is loaded by URL)', () => {
    const followed = (load: Load): boolean => load.compilerFollows;
    const problems = parsed.fileNames.flatMap((file) => escapes(file, SRC_DIR, readFileSync(file, 'utf8'), followed));
    expect(problems).toEqual([]);
  });

  it('bundles src/ and packages only: no emulator, no test code', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bundle-'));
    try {
      const inputs = await buildServer(out);
      expect(inputs).toContain('src/main.ts');
      expect(inputs).toContain('src/photos/upload-record-photo.ts');
      // Package paths may come out through a symlinked node_modules (../../…/node_modules/…): what counts is the folder.
      expect(inputs.filter((input) => !input.startsWith('src/') && !input.includes('node_modules/'))).toEqual([]);
      expect(inputs.filter((input) => /graphiql-(build|app)/.test(input))).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
