// Drives Swagger UI in headless Chromium as an explorer would, on a fresh
// database: open the page under a host name that is not a loopback address
// (mapped to the server) with every other host blocked, authorize with the
// dev token, then run every operation with the request the page pre-fills
// from the spec's examples, in an order that makes each possible (create
// before read, read before change, each change with the ETag the last answer
// carried), and expect each operation's documented success status. A
// screenshot of each step goes to the output folder. Run by `cargo xtask
// browser`:
//   node swagger-ui.mjs <base-url> <token> <output-folder> <png-image>
import { chromium } from 'playwright-core';

const [base, token, out, image] = process.argv.slice(2);
const fail = (message) => { console.error(`browser test failed: ${message}`); process.exit(1); };

// The page is opened as http://users-api.test:<port>: Swagger UI asks an
// outside validator about the spec from any host name but a loopback one,
// so only a non-loopback name shows whether the page stays offline.
const port = new URL(base).port;
const host = `users-api.test:${port}`;
const origin = `http://${host}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--host-resolver-rules=MAP users-api.test 127.0.0.1'],
});
const elsewhere = [];
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === host || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    elsewhere.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.setDefaultTimeout(20000);
  await page.goto(`${origin}/docs/`);
  await page.waitForSelector('#operations-Users-createUser');
  const title = await page.title();
  if (title !== 'Users API') fail(`the page is titled ${JSON.stringify(title)}`);
  const shown = await page.locator('.topbar select, .download-url-input').first().isVisible();
  if (!shown) fail('the top bar offers no document');

  if ((await page.locator('input.operation-filter-input').count()) === 0) fail('the page has no filter box');
  await page.click('button.authorize');
  await page.fill('.modal-ux input[type=text], .modal-ux input[type=password]', token);
  await page.click('.modal-ux .auth-btn-wrapper button.authorize');
  await page.click('.modal-ux button.btn-done');
  // The token outlives a reload.
  await page.reload();
  await page.waitForSelector('#operations-Users-createUser');
  const kept = await page.evaluate(() => window.localStorage.getItem('authorized'));
  if (!kept || !kept.includes('bearerAuth')) fail(`the token was lost on reload: ${kept}`);

  let step = 0;
  // Runs one operation: opens it, lets `prepare` fill what an earlier
  // answer decides (ids, entity tags), executes the request as pre-filled
  // otherwise, and returns the page's answer.
  async function run(tag, operationId, expected, prepare = async () => {}, inspect = async () => {}) {
    const block = page.locator(`#operations-${tag}-${operationId}`);
    await block.locator('.opblock-summary').first().click();
    const tryOut = block.locator('button.try-out__btn');
    if ((await tryOut.count()) > 0 && (await tryOut.innerText()).trim() === 'Try it out') await tryOut.click();
    await prepare(block);
    await block.locator('button.execute').click();
    const status = block.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor();
    const code = (await status.innerText()).trim().split(/\s+/)[0];
    const bodies = block.locator('.live-responses-table .response-col_description .highlight-code pre');
    const body = (await bodies.count()) > 0 ? await bodies.first().innerText() : '';
    const headers = await block.locator('.live-responses-table .response .response-col_description').first().innerText();
    const etag = (headers.match(/etag:\s*("[^"]*")/i) || [])[1];
    step += 1;
    await block.screenshot({ path: `${out}/${String(step).padStart(2, '0')}-${operationId}.png` });
    if (code !== String(expected)) fail(`${operationId} answered ${code}, not ${expected}: ${body}`);
    await inspect(block);
    await block.locator('.opblock-summary').first().click();
    return { code, body, etag, headers };
  }
  const fill = (name, value) => async (block) => {
    await block.locator(`tr[data-param-name="${name}"] input`).fill(value);
  };
  const both = (...steps) => async (block) => { for (const s of steps) await s(block); };
  const prefilled = async (block, media) => {
    const select = block.locator('.body-param-content-type select, select[aria-label="Request content type"]').first();
    const chosen = await select.inputValue();
    if (media && chosen !== media) fail(`the body is pre-set to ${chosen}, not ${media}`);
    const text = await block.locator('textarea.body-param__text').inputValue();
    JSON.parse(text);
    return text;
  };

  const ran = [];
  for (const lookup of ['listCountries', 'listLanguages', 'listLocales', 'listTimeZones']) {
    await run('Lookups', lookup, 200);
    ran.push(lookup);
  }
  const created = await run('Users', 'createUser', 201, (block) => prefilled(block, 'application/json'));
  ran.push('createUser');
  const user = JSON.parse(created.body);
  await run('Users', 'listUsers', 200);
  ran.push('listUsers');
  const read = await run('Users', 'getUser', 200, fill('userId', user.id));
  ran.push('getUser');
  if (!read.etag) fail(`the page shows no ETag for getUser: ${read.headers}`);
  const patched = await run('Users', 'updateUser', 200,
    both(fill('userId', user.id), fill('If-Match', read.etag),
         (block) => prefilled(block, 'application/merge-patch+json')));
  ran.push('updateUser');
  const replaced = await run('Users', 'replaceUser', 200,
    both(fill('userId', user.id), fill('If-Match', patched.etag), (block) => prefilled(block)));
  ran.push('replaceUser');
  const group = await run('Groups', 'createGroup', 201, (block) => prefilled(block, 'application/json'));
  ran.push('createGroup');
  const groupId = JSON.parse(group.body).id;
  await run('Groups', 'listGroups', 200);
  ran.push('listGroups');
  const readGroup = await run('Groups', 'getGroup', 200, fill('groupId', groupId));
  ran.push('getGroup');
  if (!readGroup.etag) fail(`the page shows no ETag for getGroup: ${readGroup.headers}`);
  const patchedGroup = await run('Groups', 'updateGroup', 200,
    both(fill('groupId', groupId), fill('If-Match', readGroup.etag),
         (block) => prefilled(block, 'application/merge-patch+json')));
  ran.push('updateGroup');
  await run('Groups', 'listUserGroups', 200, fill('userId', user.id));
  ran.push('listUserGroups');
  await run('Groups', 'deleteGroup', 204, both(fill('groupId', groupId), fill('If-Match', patchedGroup.etag)));
  ran.push('deleteGroup');
  // The profile image: chosen with the page's file picker, sent as PNG,
  // shown back as an image.
  const uploaded = await run('Users', 'setUserAvatar', 204,
    both(fill('userId', user.id), fill('If-Match', replaced.etag), async (block) => {
      const select = block.locator('.body-param-content-type select, select[aria-label="Request content type"]').first();
      await select.selectOption('image/png');
      const picker = block.locator('input[type=file]');
      if ((await picker.count()) === 0) fail('the page offers no file picker for the image');
      await picker.setInputFiles(image);
    }));
  ran.push('setUserAvatar');
  await run('Users', 'getUserAvatar', 200, fill('userId', user.id), async (block) => {
    const shown = block.locator('.live-responses-table img');
    if ((await shown.count()) === 0) fail('the page does not show the image it read');
  });
  ran.push('getUserAvatar');
  const avatar = await fetch(`${base}/v1/users/${user.id}/avatar`, { headers: { Authorization: `Bearer ${token}` } });
  const sent = (await import('node:fs')).readFileSync(image);
  const back = Buffer.from(await avatar.arrayBuffer());
  if (avatar.headers.get('content-type') !== 'image/png' || !back.equals(sent)) {
    fail(`the uploaded image reads back as ${avatar.headers.get('content-type')}, ${back.length} bytes, not the ${sent.length} sent`);
  }
  const removed = await run('Users', 'deleteUserAvatar', 204,
    both(fill('userId', user.id), fill('If-Match', uploaded.etag)));
  ran.push('deleteUserAvatar');
  const password = await run('Users', 'setUserPassword', 204,
    both(fill('userId', user.id), fill('If-Match', removed.etag), (block) => prefilled(block)));
  ran.push('setUserPassword');
  await run('Users', 'deleteUser', 204, both(fill('userId', user.id), fill('If-Match', password.etag)));
  ran.push('deleteUser');

  // The reference page: Redoc over the spec with a curl and an SDK sample
  // per operation, from this server alone.
  const reference = await context.newPage();
  reference.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  reference.on('pageerror', (error) => consoleErrors.push(String(error)));
  reference.setDefaultTimeout(30000);
  await reference.goto(`${origin}/reference/`);
  await reference.waitForSelector('.api-content');
  const referenceTitle = await reference.title();
  if (referenceTitle !== 'Users API: reference') fail(`the reference page is titled ${JSON.stringify(referenceTitle)}`);
  const text = await reference.locator('.api-content').innerText();
  if (!text.includes('curl -X ')) fail(`the reference page shows no curl sample: ${text.slice(0, 3000)}`);
  const tabs = reference.locator('[role=tab]:has-text("users-client")');
  const sampleTabs = await tabs.count();
  if (sampleTabs < ran.length) fail(`the reference page shows ${sampleTabs} SDK samples for ${ran.length} operations`);
  // Each SDK sample, shown: the call of its operation.
  const shownCalls = [];
  for (let i = 0; i < sampleTabs; i++) {
    await tabs.nth(i).click();
    const panel = reference.locator(`[id="${await tabs.nth(i).getAttribute("aria-controls")}"]`);
    const code = await panel.innerText();
    const call = (code.match(/\.([a-z_]+)\(/g) || []).map((c) => c.slice(1, -1)).find((c) => c !== 'builder' && c !== 'bearer_token' && c !== 'var' && c !== 'build' && c !== 'from_value' && c !== 'parse' && c !== 'if_match');
    shownCalls.push(call);
  }
  for (const operation of ran) {
    const snake = operation.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!shownCalls.includes(snake)) fail(`the reference page shows no SDK call of ${operation}: ${shownCalls}`);
  }
  await reference.screenshot({ path: `${out}/${String(step + 1).padStart(2, '0')}-reference.png` });

  // The server agrees: the user is gone.
  const gone = await fetch(`${base}/v1/users/${user.id}`, { headers: { Authorization: `Bearer ${token}` } });
  if (gone.status !== 404) fail(`after deleteUser the server answers ${gone.status}`);
  if (elsewhere.length > 0) fail(`the page asked other hosts: ${elsewhere.join(', ')}`);
  const blocked = consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e));
  if (blocked.length > 0) fail(`the content security policy blocked: ${blocked.join(' | ')}`);
  console.log(JSON.stringify({ title, operations: ran, screenshots: step + 1, referenceSamples: sampleTabs, otherHosts: elsewhere.length }));
} finally {
  await browser.close();
}
