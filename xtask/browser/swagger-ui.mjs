// Drives Swagger UI in headless Chromium: authorize with the dev token, "Try
// it out" on createUser and then on updateUser, check what the page shows and
// what the server holds, and save a screenshot. Run by `cargo xtask browser`:
//   node swagger-ui.mjs <base-url> <token> <screenshot.png>
import { chromium } from 'playwright-core';

const [base, token, screenshot] = process.argv.slice(2);
const fail = (message) => { console.error(`browser test failed: ${message}`); process.exit(1); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 2000 } });
  page.setDefaultTimeout(20000);
  await page.goto(`${base}/docs/`);
  await page.waitForSelector('#operations-Users-createUser');

  // Authorize with the bearer token.
  await page.click('button.authorize');
  await page.fill('.modal-ux input[type=text], .modal-ux input[type=password]', token);
  await page.click('.modal-ux .auth-btn-wrapper button.authorize');
  await page.click('.modal-ux button.btn-done');

  async function tryItOut(opblock, fill) {
    const block = page.locator(opblock);
    await block.locator('.opblock-summary').first().click();
    await block.locator('button.try-out__btn').click();
    await fill(block);
    await block.locator('button.execute').click();
    const status = block.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    const code = (await status.innerText()).trim().split(/\s+/)[0];
    const body = await block.locator('.live-responses-table .response-col_description .highlight-code pre').first().innerText();
    return { code, body };
  }

  const email = `browser-${Date.now()}@example.com`;
  const created = await tryItOut('#operations-Users-createUser', async (block) => {
    await block.locator('textarea.body-param__text').fill(JSON.stringify({
      name: { firstName: 'Ada', lastName: 'Lovelace' }, email, jobTitle: 'Analyst',
    }));
  });
  if (created.code !== '201') fail(`createUser showed ${created.code}: ${created.body}`);
  const user = JSON.parse(created.body);

  const patched = await tryItOut('#operations-Users-updateUser', async (block) => {
    await block.locator('tr[data-param-name="userId"] input').fill(user.id);
    await block.locator('textarea.body-param__text').fill(JSON.stringify({ jobTitle: 'Head of Analysis' }));
  });
  if (patched.code !== '200') fail(`updateUser showed ${patched.code}: ${patched.body}`);
  const shown = JSON.parse(patched.body);
  if (shown.jobTitle !== 'Head of Analysis' || shown.resourceVersion !== 2) fail(`the page showed ${patched.body}`);
  // The PATCH operation as the page shows it: from its summary line down to
  // the server response.
  const clip = await page.evaluate(() => {
    const op = document.querySelector('#operations-Users-updateUser');
    const top = op.querySelector('.opblock-summary').getBoundingClientRect();
    const bottom = op.querySelector('.live-responses-table').getBoundingClientRect();
    return { x: top.left + window.scrollX, y: top.top + window.scrollY, width: top.width, height: bottom.bottom - top.top };
  });
  await page.screenshot({ path: screenshot, fullPage: true, clip });

  // The server holds the change.
  const response = await fetch(`${base}/v1/users/${user.id}`, { headers: { Authorization: `Bearer ${token}` } });
  const stored = await response.json();
  if (stored.jobTitle !== 'Head of Analysis' || stored.resourceVersion !== 2) fail(`the server holds ${JSON.stringify(stored)}`);
  console.log(JSON.stringify({ created: created.code, patched: patched.code, user: user.id, screenshot }));
} finally {
  await browser.close();
}
