// Debian's Chromium for the browser tests, driven by playwright-core (Playwright's own browser
// download cannot work here: no internet), headless, in a fresh profile per launch.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

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
