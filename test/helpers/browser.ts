// Debian's Chromium driven by playwright-core (no browser download: `npx playwright install` cannot
// work offline). One browser per test file; each page is its own tab, and so its own
// sessionStorage (its own signed-in user). Accessibility: @axe-core/playwright.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type BrowserContext, type Page } from 'playwright-core';


/** TEST_CHROMIUM names the browser; when it is set, a missing browser fails the run instead of skipping. */
export const chromiumPath = process.env.TEST_CHROMIUM || '/usr/bin/chromium';
export const chromiumRequired = Boolean(process.env.TEST_CHROMIUM);
export const chromiumAvailable = fs.existsSync(chromiumPath);

if (!chromiumAvailable) {
  const msg = `browser tests: no Chromium at ${chromiumPath} (apt-get install -y chromium)`;
  if (chromiumRequired) throw new Error(`${msg}; TEST_CHROMIUM is set, so this is an error`);
  console.warn(`${msg} — skipped`);
}

export interface Browser {
  context: BrowserContext;
  /** A new tab that records page errors and console errors (CSP violations show up there). */
  newPage(): Promise<Page & { problems: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cia-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    // Without the background-networking flags Chromium keeps dialling Google services, which a
    // closed network refuses again and again.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return {
    context,
    async newPage() {
      const page = (await context.newPage()) as Page & { problems: string[] };
      page.problems = [];
      page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        // An API answer with an error status (a wrong key's 401, a probe for a field this server
        // lacks: 400) is logged by Chromium as a failed resource; the tests check those answers.
        if (m.text().startsWith('Failed to load resource') && new URL(m.location().url || 'about:blank').pathname === '/graphql') return;
        page.problems.push(`console: ${m.text()} (${m.location().url})`);
      });
      return page;
    },
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe-core in the page through @axe-core/playwright (WCAG 2.x A and AA rules and best
 * practices); returns the serious and critical violations (and a count of all). axe is evaluated
 * through the DevTools protocol, so the pages' Content-Security-Policy (script-src 'self') stays on.
 */
export async function axe(page: Page): Promise<{ serious: AxeViolation[]; all: number }> {
  const result = await new AxeBuilder({ page }).analyze();
  const violations: AxeViolation[] = result.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target as unknown[] })) }));
  return { serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), all: violations.length };
}

/** Builds dist/admin when its sources changed (src/admin/build.ts), in a child process. */
export function buildAdminBundle(): void {
  execFileSync(process.execPath, ['--import', 'tsx', 'src/admin/build.ts'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
