#!/usr/bin/env node
// Checks every reply fwctld recorded (FWCTLD_API_TRACE, one JSON line per
// reply) against docs/openapi.yaml: the status is documented for the
// operation, the content type is one the reply documents, and the body is
// valid against its schema (ajv, the spec dereferenced by swagger-parser).
//
//   node tools/openapi/check-replies.js docs/openapi.yaml TRACE...
//
// Prints each failure (at most 50 in full) and a summary; exit 1 when any.
'use strict';

const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const MAX_SHOWN = 50;

// OpenAPI 3.0 schemas as JSON Schema: `nullable` is understood by ajv;
// `example` and `x-*` are annotations.
function makeAjv() {
	const ajv = new Ajv({ strict: false, allErrors: true });
	addFormats(ajv);
	ajv.addKeyword('example');
	return ajv;
}

// "/v1/rules/{name}" as a regular expression over a request path.
function templateRe(path) {
	const esc = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
	return new RegExp('^' + esc.replace(/\\?\{[^}]+\\?\}|\{[^}]+\}/g,
	    '[^/]+') + '$');
}

function findPath(api, rec) {
	if (rec.route && api.paths[rec.route])
		return rec.route;
	const path = rec.url.split('?')[0];
	for (const p of Object.keys(api.paths))
		if (templateRe(p).test(path))
			return p;
	return null;
}

function baseType(ct) {
	return (ct || '').split(';')[0].trim().toLowerCase();
}

function main() {
	const [spec, ...traces] = process.argv.slice(2);
	if (!spec || traces.length === 0) {
		console.error('usage: check-replies.js OPENAPI.yaml TRACE...');
		process.exit(2);
	}
	return SwaggerParser.dereference(spec).then((api) => {
		const ajv = makeAjv();
		const cache = new Map();
		const failures = [];
		let checks = 0;
		const seen = new Set();

		function validate(schema, body) {
			let v = cache.get(schema);
			if (!v) {
				v = ajv.compile(schema);
				cache.set(schema, v);
			}
			return v(body) ? null : ajv.errorsText(v.errors,
			    { separator: '; ' });
		}

		function check(rec, where) {
			const fail = (why) => failures.push(`${where}: ` +
			    `${rec.method} ${rec.url} -> ${rec.status}: ${why}`);
			checks++;
			if (rec.method === 'OPTIONS') {
				// CORS preflight: no operation of its own
				if (rec.status !== 204 && rec.status !== 403)
					fail('a preflight is 204 or 403');
				return;
			}
			const path = findPath(api, rec);
			let op;
			let resp;
			if (path === null) {
				if (rec.status !== 404)
					return fail('no documented path');
				resp = api.components.responses.NotFound;
			} else if (!(op = api.paths[path][rec.method.toLowerCase()])) {
				if (rec.status !== 405)
					return fail(`${rec.method} is not documented for ` +
					    `${path}`);
				resp = api.components.responses.MethodNotAllowed;
			} else {
				resp = op.responses[String(rec.status)] ||
				    op.responses.default;
			}
			if (!resp)
				return fail(`status ${rec.status} is not documented ` +
				    `for ${rec.method} ${path}`);
			seen.add(`${rec.method} ${path} ${rec.status}`);
			if (!resp.content) {
				if (rec.body)
					fail('a body where none is documented');
				return;
			}
			const media = resp.content[baseType(rec.ctype)];
			if (!media)
				return fail(`content type ${rec.ctype} is not ` +
				    `documented (${Object.keys(resp.content)})`);
			if (rec.body === false || rec.body === null ||
			    !media.schema)
				return;		// too large to record, or a stream
			let body = rec.body;
			if (/json/.test(baseType(rec.ctype))) {
				try {
					body = JSON.parse(rec.body);
				} catch (e) {
					return fail(`not JSON: ${e.message}`);
				}
			}
			const err = validate(media.schema, body);
			if (err)
				fail(`body: ${err}; body was ` +
				    JSON.stringify(body).slice(0, 300));
		}

		for (const file of traces) {
			const lines = fs.readFileSync(file, 'utf8').split('\n');
			lines.forEach((line, i) => {
				if (line.trim() === '')
					return;
				let rec;
				try {
					rec = JSON.parse(line);
				} catch (e) {
					failures.push(`${file}:${i + 1}: not a trace line`);
					return;
				}
				check(rec, `${file}:${i + 1}`);
			});
		}
		failures.slice(0, MAX_SHOWN).forEach((f) => console.log(f));
		if (failures.length > MAX_SHOWN)
			console.log(`... and ${failures.length - MAX_SHOWN} more`);
		console.log(`openapi: ${checks} replies checked against ${spec} ` +
		    `(${seen.size} operation/status pairs), ` +
		    `${failures.length} failures`);
		process.exit(failures.length ? 1 : 0);
	});
}

main().catch((e) => {
	console.error(`check-replies: ${e.message}`);
	process.exit(2);
});
