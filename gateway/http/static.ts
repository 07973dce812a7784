/**
 * The web page and the browser's STOMP client, served as plain files (no build step). Only GET
 * and HEAD, only under the mounted folders, never outside them (the resolved path must stay
 * inside its root).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve as resolvePath, sep } from 'node:path';
import type { Middleware } from 'koa';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.map': 'application/json', '.ico': 'image/x-icon',
};

/** `mounts`: URL prefix (ending in '/') → folder. `index`: the file served at '/'. */
export function staticFiles(mounts: Readonly<Record<string, string>>, index: string): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const file = ctx.path === '/' ? index : resolve(mounts, ctx.path);
    if (file === undefined) return next();
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return next();
    ctx.type = TYPES[extname(file)]!;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = await readFile(file);
  };
}

function resolve(mounts: Readonly<Record<string, string>>, path: string): string | undefined {
  for (const [prefix, root] of Object.entries(mounts)) {
    if (!path.startsWith(prefix)) continue;
    const base = resolvePath(root);
    const file = normalize(join(base, decodeURIComponent(path.slice(prefix.length))));
    // Inside the root, and only the kinds of file a page loads (not the folder's tests or types).
    if (file.startsWith(base + sep) && TYPES[extname(file)] !== undefined && !file.endsWith('.d.ts')) return file;
  }
  return undefined;
}
