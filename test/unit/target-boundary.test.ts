/**
 * A target is one folder that speaks only the contract: files under src/targets/<name>/ import
 * src/spi/, src/lib/, their own folder and npm packages, nothing of the runtime, the producer or
 * another target. (src/targets/index.ts is the runtime's loader, not a target.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TARGETS = join(ROOT, 'src', 'targets');

/** Every module a file names: static imports, re-exports and dynamic import() calls. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Why `spec`, imported by `file`, crosses the boundary, or null when it may. */
export function violation(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null; // node: built-ins and npm packages
  const to = relative(ROOT, resolve(dirname(file), spec)).split(sep).join('/');
  const own = relative(ROOT, file).split(sep).slice(0, 3).join('/'); // src/targets/<name>
  if (to.startsWith('src/spi/') || to.startsWith('src/lib/') || to.startsWith(`${own}/`)) return null;
  // A test inside the target may read the configuration the repository ships.
  if (file.endsWith('.test.ts') && to === 'src/config.js') return null;
  if (to.startsWith('src/consumers/') || to === 'src/run.js' || to === 'src/targets/index.js') return `imports the runtime (${to})`;
  if (to.startsWith('src/producers/')) return `imports the producer (${to})`;
  if (to.startsWith('src/targets/')) return `imports another target (${to})`;
  return `imports ${to}, which is neither src/spi/ nor src/lib/`;
}

function targetFiles(dir = TARGETS): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return targetFiles(p);
    return dir !== TARGETS && d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every file of the target's folder that `entry` loads, following relative imports. */
function loadedFrom(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    for (const s of specifiers(readFileSync(file, 'utf8'))) if (s.startsWith('.')) visit(resolve(dirname(file), s).replace(/\.js$/, '.ts'));
  };
  visit(entry);
  return [...seen].map((f) => relative(ROOT, f).split(sep).join('/'));
}

describe('the target boundary', () => {
  it('production never loads simulator code: a target\'s index.ts reaches neither simulator.ts nor simulator/', () => {
    const names = readdirSync(TARGETS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const loaded = loadedFrom(join(TARGETS, name, 'index.ts'));
      expect(loaded.length, name).toBeGreaterThan(1);
      expect(loaded.filter((f) => f.startsWith(`src/targets/${name}/simulator`)), name).toEqual([]);
    }
    // The walk does find a simulator where one is imported.
    expect(loadedFrom(join(TARGETS, 'moodle', 'simulator.ts'))).toContain('src/targets/moodle/simulator/index.ts');
  });

  it('no file under src/targets/ imports the runtime, the producer, another target or other core code', () => {
    const files = targetFiles();
    expect(files.length).toBeGreaterThan(10);
    const bad = files.flatMap((f) => specifiers(readFileSync(f, 'utf8'))
      .map((s) => ({ s, why: violation(f, s) }))
      .filter((x) => x.why)
      .map((x) => `${relative(ROOT, f)}: ${x.s} ${x.why}`));
    expect(bad).toEqual([]);
  });

  it('tells the crossings apart, and finds imports of every form', () => {
    const f = join(TARGETS, 'moodle', 'apply.ts');
    expect(violation(f, '../../spi/index.js')).toBeNull();
    expect(violation(f, '../../lib/concurrency.js')).toBeNull();
    expect(violation(f, './simulator/index.js')).toBeNull();
    expect(violation(f, 'undici')).toBeNull();
    expect(violation(f, '../../consumers/target-group.js')).toBe('imports the runtime (src/consumers/target-group.js)');
    expect(violation(f, '../../producers/publisher.js')).toBe('imports the producer (src/producers/publisher.js)');
    expect(violation(f, '../ad/index.js')).toBe('imports another target (src/targets/ad/index.js)');
    expect(violation(f, '../index.js')).toBe('imports the runtime (src/targets/index.js)');
    expect(violation(f, '../../directory/client.js')).toBe('imports src/directory/client.js, which is neither src/spi/ nor src/lib/');
    expect(violation(f, '../../config.js')).not.toBeNull();
    expect(violation(join(TARGETS, 'moodle', 'x.test.ts'), '../../config.js')).toBeNull();
    expect(specifiers(`import a from './a.js';\nexport { b } from './b.js';\nimport type { C } from './c.js';\nconst d = await import('./d.js');`))
      .toEqual(['./a.js', './b.js', './c.js', './d.js']);
  });
});
