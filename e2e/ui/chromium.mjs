// Debian's Chromium for the browser tests, driven by playwright-core (Playwright's own browser
// download cannot work here: no internet), headless, in a fresh profile per launch.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A persistent context in a new profile dir `assetd-<name>-chromium-*` (remove it after `close`). */
export async function launchChromium(name, { args = [], ...options } = {}) {
  const userDataDir = await fsp.mkdtemp(path.join(os.tmpdir(), `assetd-${name}-chromium-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...args],
    ...options,
  });
  return { context, userDataDir };
}

/**
 * A page script (JSX, resolving packages from `resolveDir`) bundled as a front-end build would:
 * one ES module for Chromium, React in production mode. Returns its text.
 */
export async function bundlePage(entry, resolveDir, sourcefile) {
  const built = await esbuild.build({
    stdin: { contents: entry, loader: 'jsx', resolveDir, sourcefile },
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    target: 'chrome120',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  });
  if (built.errors.length > 0) throw new Error(`esbuild: ${JSON.stringify(built.errors)}`);
  return built.outputFiles[0].text;
}
