import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyTarget, TargetSimulator } from '../spi/index.js';

/**
 * Every folder here with an index.ts exporting `target` is a target. Discovered, not listed, so
 * adding a target is adding a folder and nothing else names it.
 */
export async function loadTargets(): Promise<Map<string, AnyTarget>> {
  const dir = import.meta.dirname;
  const out = new Map<string, AnyTarget>();
  for (const name of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const file = join(dir, name, 'index.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as { target?: AnyTarget };
    if (mod.target) out.set(mod.target.name, mod.target);
  }
  return out;
}

export async function getTarget(name: string): Promise<AnyTarget> {
  const all = await loadTargets();
  const t = all.get(name);
  if (!t) throw new Error(`unknown target ${name} (known: ${[...all.keys()].join(', ') || 'none'})`);
  return t;
}

/** Targets enabled in the configuration (a block under `targets:` without `enabled: false`). */
export async function enabledTargets(targets: Record<string, unknown>): Promise<AnyTarget[]> {
  const all = await loadTargets();
  return Object.entries(targets)
    .filter(([, v]) => (v as { enabled?: boolean } | null)?.enabled !== false)
    .map(([name]) => {
      const t = all.get(name);
      if (!t) throw new Error(`targets.${name}: no such target (known: ${[...all.keys()].join(', ') || 'none'})`);
      return t;
    });
}

/**
 * A target's simulator, from `src/targets/<name>/simulator.ts` when there is one. Imported only
 * here, on demand (`tilgang sim`, `npm start`, tests), so production never loads simulator code.
 */
export async function loadSimulator(name: string): Promise<TargetSimulator | undefined> {
  if (!/^[a-z0-9-]+$/.test(name)) return undefined;
  const file = join(import.meta.dirname, name, 'simulator.ts');
  if (!existsSync(file)) return undefined;
  return ((await import(pathToFileURL(file).href)) as { simulator?: TargetSimulator }).simulator;
}
