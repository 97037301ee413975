#!/usr/bin/env node
// Drives the fwctl dashboard in a real headless browser (Debian's chromium
// through puppeteer-core), for tests/lab_dash.c. Steps, each printed as a
// line on stdout (the C test reads them) and each with a screenshot in
// OUTDIR:
//   1. the page with the token: the lab's zones in the matrix, its rules
//   2. waits for OUTDIR/traffic (the test sent some to rule svc), then
//      for svc's packets/s to rise above 0: "MOVING"
//   3. waits for OUTDIR/added (the test made a rule with the CLI), then
//      for that rule's row: "SEEN ms" measured from the file's appearance
//   4. blocks ADDR on the page (set blocklist): "BLOCKED"
// Bounded throughout; exit 1 with the reason on failure.
//
//   node tests/ui/drive.js URL TOKEN OUTDIR RULE ADDR
'use strict';

const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [url, token, outdir, rule, addr] = process.argv.slice(2);
const CHROMIUM = process.env.FWCTL_CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 15000;

function say(line) {
	process.stdout.write(line + '\n');
}

async function shot(page, name) {
	await page.screenshot({ path: path.join(outdir, name), fullPage: true });
	say('SHOT ' + name);
}

async function waitFile(file, ms) {
	const end = Date.now() + ms;
	while (!fs.existsSync(file)) {
		if (Date.now() > end)
			throw new Error('no ' + file + ' within ' + ms + ' ms');
		await new Promise((ok) => setTimeout(ok, 10));
	}
	return Date.now();
}

async function main() {
	if (!url || !token || !outdir || !rule || !addr) {
		console.error('usage: drive.js URL TOKEN OUTDIR RULE ADDR');
		process.exit(2);
	}
	const browser = await puppeteer.launch({
		executablePath: CHROMIUM,
		headless: true,
		// the lab's certificate is its own; root needs no sandbox
		acceptInsecureCerts: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
		    '--no-first-run', '--window-size=1400,1000'],
	});
	const page = await browser.newPage();
	await page.setViewport({ width: 1400, height: 1000 });
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => {
		if (m.type() === 'error')
			errors.push(m.text());
	});
	try {
		await page.goto(url + '/ui/', { waitUntil: 'load', timeout: STEP_MS });
		await page.type('#token', token);
		await page.click('#login button');
		// 1: the lab's zones and rules
		await page.waitForSelector('#matrix tr[data-zone="lan"]', { timeout: STEP_MS });
		await page.waitForSelector('#rules tr[data-rule="svc"]', { timeout: STEP_MS });
		await page.waitForFunction(() =>
		    document.querySelector('#live').classList.contains('on'),
		    { timeout: STEP_MS });
		const zones = await page.$$eval('#matrix tr[data-zone]',
		    (rows) => rows.map((r) => r.dataset.zone));
		const rules = await page.$$eval('#rules tr[data-rule]',
		    (rows) => rows.map((r) => r.dataset.rule));
		say('ZONES ' + zones.join(' '));
		say('RULES ' + rules.join(' '));
		// the first reading of the counters: rates start from it
		await page.waitForFunction(() => {
			const l = document.querySelector(
			    '#rules tr[data-rule="svc"] svg.spark polyline');
			return l && l.getAttribute('points') !== '';
		}, { timeout: STEP_MS });
		await shot(page, '1-ruleset.png');
		say('READY');
		// 2: counters move, as rates
		await waitFile(path.join(outdir, 'traffic'), 60000);
		const seen = [];
		for (const end = Date.now() + STEP_MS; Date.now() < end;) {
			const v = await page.$eval('#rules tr[data-rule="svc"] td[data-pps]',
			    (td) => td.dataset.pps);
			seen.push(v);
			if (Number(v) > 0)
				break;
			await new Promise((ok) => setTimeout(ok, 100));
		}
		if (!(Number(seen[seen.length - 1]) > 0)) {
			const rules = await page.evaluate(async (tok) => {
				const r = await fetch('/v1/counters', { headers:
				    { Authorization: 'Bearer ' + tok } });
				return r.status + ' ' + await r.text();
			}, token);
			throw new Error('svc packets/s stayed ' + [...new Set(seen)] +
			    '; counters: ' + rules);
		}
		say('MOVING ' + seen[seen.length - 1]);
		await shot(page, '2-traffic.png');
		// 3: a rule made elsewhere shows up on its own
		const t0 = await waitFile(path.join(outdir, 'added'), 60000);
		try {
			await page.waitForSelector(`#rules tr[data-rule="${rule}"]`,
			    { timeout: 1000 });
			say('SEEN ' + (Date.now() - t0));
		} catch (e) {
			say('NOT SEEN within 1000 ms');
		}
		await shot(page, '3-rule-added.png');
		// 4: block an address from the page
		await page.type('#block-addr', addr);
		await page.select('#block-set', 'blocklist');
		await page.click('#block-btn');
		await page.waitForFunction((a) => {
			const m = document.querySelector('#msg');
			return m.className === 'ok' && m.textContent.includes(a);
		}, { timeout: STEP_MS }, addr);
		await page.waitForSelector(`[data-set="blocklist"] li[data-element="${addr}"]`,
		    { timeout: STEP_MS });
		say('BLOCKED');
		await shot(page, '4-blocked.png');
		if (errors.length)
			say('PAGE ERRORS ' + JSON.stringify(errors));
	} catch (e) {
		await shot(page, 'failed.png').catch(() => {});
		console.error('drive.js: ' + e.message + (errors.length ?
		    '; page errors: ' + JSON.stringify(errors) : ''));
		await browser.close();
		process.exit(1);
	}
	await browser.close();
}

main().catch((e) => {
	console.error('drive.js: ' + e.message);
	process.exit(1);
});
