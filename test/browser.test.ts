// The pages in a real browser: Debian's chromium driven by playwright-core.
// Every committed counterexample's page has one SVG lane per thread and
// one marked divergence step and logs no error; the campaign page links
// to pages that open; a hostile corpus file runs no script.  Screenshots
// go to out/screenshots/.
//
// .ci/run installs chromium when it is missing and sets
// DAXCHECK_BROWSER=required, so there a missing browser fails the run;
// elsewhere these tests say they were skipped and why.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { counterexampleFiles } from '../fuzz/campaign.ts';
import { readCounterexample } from '../fuzz/corpus.ts';
import { hostileCounterexample } from './hostile.ts';
import { daxcheck } from './daxcheck.ts';

function findChromium(): string | null {
  for (const c of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (c && existsSync(c)) return c;
  return null;
}

const executablePath = findChromium();
const required = process.env.DAXCHECK_BROWSER === 'required';
const shots = resolve('out', 'screenshots');

let browser: Browser;

// Opens a page, collecting console errors, page errors and dialogs.
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  return { page, problems };
}

const tmp = mkdtempSync(join(tmpdir(), 'daxcheck-browser-'));

if (!executablePath && !required) {
  test('browser tests (skipped: no chromium; apt-get install chromium, or set CHROMIUM)', () => {
    console.log('\n  browser tests skipped: no chromium found (apt-get install chromium, or set CHROMIUM=/path)');
  });
} else {
  test.before(async () => {
    assert.ok(executablePath, 'DAXCHECK_BROWSER=required but no chromium: apt-get install chromium, or set CHROMIUM');
    browser = await chromium.launch({ executablePath: executablePath!, args: ['--no-sandbox'] });
    mkdirSync(shots, { recursive: true });
  });
  test.after(async () => {
    await browser?.close();
  });

  test('every committed counterexample page: one SVG lane per thread, one marked divergence step, no console error', async () => {
    const out = join(tmp, 'corpus'); // a copy: the pages go beside the files
    cpSync('corpus', out, { recursive: true });
    const r = daxcheck('report', out);
    assert.is(r.code, 0, r.err);
    const files = counterexampleFiles(out);
    let shot = false;
    for (const file of files) {
      const { cx } = readCounterexample(file);
      const { page, problems } = await open(resolve(file.replace(/\.json$/, '.html')));
      const svg = page.locator('svg.swimlane').first(); // folded, when there is a whole trace below it
      assert.ok((await page.locator('svg.swimlane').count()) <= 2, file);
      assert.is(await svg.locator('g.lane').count(), cx.testCase.threads.length + 4, `${file}: lanes`);
      const mark = svg.locator('g.divergence');
      assert.is(await mark.count(), 1, `${file}: divergence marks`);
      assert.is(await mark.getAttribute('data-step'), String(cx.divergence.step), file);
      assert.ok(((await svg.boundingBox())?.height ?? 0) > 100, `${file}: the diagram is drawn`);
      if (cx.divergence.class === 'dma-into-reallocated-block' && !shot) {
        await mark.scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(shots, 'divergence.png') });
        shot = true;
      }
      assert.equal(problems, [], file);
      await page.close();
    }
    assert.ok(shot);
  });

  test("a K1 page, from the repository's corpus", async () => {
    const html = join(tmp, 'k1.html');
    assert.is(daxcheck('report', 'corpus/dma-into-reallocated-block/aea1364f6bf835f6.json', '--html', html).code, 0);
    const { page, problems } = await open(html);
    assert.is(await page.locator('svg.swimlane g.divergence').first().getAttribute('data-class'), 'dma-into-reallocated-block');
    await page.screenshot({ path: join(shots, 'counterexample.png') });
    assert.equal(problems, []);
    await page.close();
  });

  // K3 is retired (README, "K3, retired"); the lasso it stood for is 6.1's
  // no-progress counterexample, whose loop is what its chain must show.
  const FIRST_SCREEN = [
    { name: 'k1', file: 'corpus/dma-into-reallocated-block/aea1364f6bf835f6.json', steps: [/takes a reference on block 0/, /frees block 0/, /device DMA reads from block 0 .* now free/] },
    { name: 'k4', file: 'corpus/iova-reuse/196993cfc28c917a.json', steps: [/maps IOVA 0 to block 0 for registration 0/, /unmaps and frees IOVA 0/, /maps IOVA 0 again, to block 0 for registration 1/, /lands in registration 1's page/] },
    { name: 'k9', file: 'corpus/stale-notification/1135ce9229855e32.json', steps: [/sets MAP_DIRECT lease 0 .* SIGIO to fd 0/, /closes fd 0/, /sends SIGIO for the break: si_fd 0, which in process 0 is closed/] },
    { name: 'lasso', file: 'corpus/no-progress/d68a73099b1aa68f.json', steps: [/calls fallocate.*which never returns/, /loops: \d+ steps/, /steps 266\.\.329 repeat forever/] },
  ];

  test('the K1, K4, K9 and lasso pages: the causal chain is in the first 1400x900 screen, and the page prints with its trace unclipped', async () => {
    for (const c of FIRST_SCREEN) {
      const html = join(tmp, `${c.name}.html`);
      assert.is(daxcheck('report', c.file, '--html', html).code, 0);
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(pathToFileURL(html).href);
      const rows = page.locator('#chain tr');
      const texts = await rows.allTextContents();
      let at = 0;
      for (const step of c.steps) {
        const i = texts.findIndex((t, j) => j >= at && step.test(t));
        assert.ok(i >= 0, `${c.name}: ${step} in order in ${JSON.stringify(texts)}`);
        const box = await rows.nth(i).boundingBox();
        assert.ok(box && box.y >= 0 && box.y + box.height <= 900 && box.x + box.width <= 1400, `${c.name}: chain row ${i} in the first screen: ${JSON.stringify(box)}`);
        at = i + 1;
      }
      await page.screenshot({ path: join(shots, `${c.name}-first-screen.png`) }); // k4: docs/report-k4.png
      // printed: nothing clips the folded trace, and the diagram fits the page width
      await page.emulateMedia({ media: 'print' });
      // (a string: the test runner's transform would add helpers the page lacks)
      const clipped = (await page.evaluate(`(() => {
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
          if (el.closest('details:not([open])')) continue;
          const st = getComputedStyle(el);
          if ((st.overflowY !== 'visible' && el.scrollHeight > el.clientHeight + 1) || (st.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1)) out.push(el.tagName + '.' + el.className);
        }
        const svg = document.querySelector('svg.swimlane').getBoundingClientRect();
        if (svg.right > document.documentElement.clientWidth + 1) out.push('svg ' + svg.right + ' wide');
        return out;
      })()`)) as string[];
      assert.equal(clipped, [], c.name);
      await page.pdf({ path: join(shots, `${c.name}.pdf`), printBackground: true });
      await page.close();
    }
  });

  test('the campaign page links to counterexample pages that open', async () => {
    const dir = join(tmp, 'camp');
    const f = daxcheck('fuzz', '--variant', 'K7', '--variant', 'K5', '--runs', '1600', '--workers', '1', '--slot-runs', '100', '--out', dir);
    assert.is(f.code, 0, f.err); // K7 and K5 show what they are expected to
    assert.is(daxcheck('report', dir).code, 0);
    const { page, problems } = await open(join(dir, 'report.html'));
    const links = page.locator('#divergences a');
    const n = await links.count();
    assert.ok(n >= 1);
    await page.screenshot({ path: join(shots, 'campaign.png'), fullPage: true });
    for (let i = 0; i < n; i++) {
      await links.nth(i).click();
      assert.ok((await page.locator('svg.swimlane').first().locator('g.divergence').count()) === 1);
      await page.goBack();
    }
    assert.equal(problems, []);
    await page.close();
  });

  test('a hostile corpus file: its strings show as text and no script runs', async () => {
    const file = hostileCounterexample(tmp);
    const html = join(tmp, 'hostile.html');
    assert.is(daxcheck('report', file, '--html', html).code, 0);
    const { page, problems } = await open(html);
    await page.waitForTimeout(200);
    assert.is(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.is(await page.locator('script, img, iframe, object, [onerror], [onload]').count(), 0);
    assert.ok((await page.locator('#variant').textContent())?.includes('<script>window.__pwned=1</script>'), 'the variant under the title');
    assert.ok((await page.locator('#message').textContent())?.includes('onerror='));
    await page.screenshot({ path: join(shots, 'hostile.png') });
    assert.equal(problems, []);
    await page.close();
  });
}

test.run();
