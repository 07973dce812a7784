/**
 * Fuzzes the gateway from its own /openapi.json with schemathesis (pinned and installed by
 * scripts/schemathesis/install): every operation gets generated requests, valid and invalid, as a
 * buyer and then as a seller, and each response must be what the document promises. The system
 * runs in process on the embedded defaults; a buyer, a seller, a product and an order exist first
 * so that half of the generated path ids (and order lines) hit real documents instead of 404.
 *
 * Bounded: a fixed number of examples per operation, a per-request timeout, and a wall-clock cap
 * after which schemathesis is interrupted and only what it ran so far is judged (its JSON report
 * says which). FUZZ_SEED picks another seed to explore; a failure prints the seed and the report.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { startSystem, type System } from '../../gateway/system.ts';
import { Api, type ErrorBody } from './api.ts';

/**
 * The checks, by the pinned version's names. Left out, on purpose:
 * - positive_data_acceptance: wants every schema-valid request to succeed, but some rules are
 *   not expressible in JSON Schema and are rightly 400/422: a cursor must be one the API issued,
 *   a payment must equal the order total, order lines must name catalogue products, an
 *   Idempotency-Key reused with another body is 422.
 * - object_level_authorization: needs two identities in one run; authorization between users is
 *   test/gateway/authz.test.ts's subject (and 404-not-403 there is by design).
 * - max_response_time: no timing assertions.
 */
const CHECKS = [
  'not_a_server_error', // no 5xx, whatever the input
  'status_code_conformance', // every status is documented for its operation
  'content_type_conformance', // the documented media type
  'response_schema_conformance', // bodies match the documented schema (the error shape too)
  'response_headers_conformance', // documented headers (Location, Retry-After) are there
  'negative_data_rejection', // what the document calls invalid is refused with a 4xx
  'missing_required_header', // a required header left out is a 4xx
  'ignored_auth', // secured operations refuse requests without a valid token
  'unsupported_method', // an undeclared method is 405 with Allow
  'allow_header_conformance', // ...and Allow lists the path's methods
  'use_after_free', // stateful: nothing deleted comes back
  'ensure_resource_availability', // stateful: what was created can be read
];

const MAX_EXAMPLES = 40;
const CAP_MS = 100_000;
const SEED = process.env.FUZZ_SEED ?? '20261201';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Report {
  readonly complete: boolean;
  readonly stop_reason: string;
  readonly exit_code: number;
  readonly test_cases: { readonly generated: number; readonly with_failures: number };
  readonly failures: readonly unknown[];
  readonly errors: readonly unknown[];
}

let system: System;
let schemathesis: string;
let work: string;
const tokens: Record<'BUYER' | 'SELLER', string> = { BUYER: '', SELLER: '' };

test.before(async () => {
  // Idempotent and quick when the pinned version is there (scripts/services up installs it in CI).
  schemathesis = (await promisify(execFile)('bash', [join(ROOT, 'scripts/schemathesis/install')], { timeout: 300_000 })).stdout.trim();
  work = await mkdtemp(join(tmpdir(), 'gateway-fuzz-'));
  system = await startSystem({
    PORT: '0', PG_PORT: '0', LOG_LEVEL: 'silent', ORDER_PAYMENT_DEADLINE_MS: '600000', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0', PG_LATENCY_MS: '0,5',
  }, { seed: false });
  const url = system.gateway.url;
  const seller = await new Api(url).signUp('SELLER');
  const buyer = await new Api(url).signUp('BUYER', { name: 'Fuzz Buyer', phone: '+44 20 7946 0000' });
  const productId = await seller.product('Kettle', 5900, 1_000_000);
  const place = async () => {
    const placed = await buyer.call<{ orderId: string }>('POST', '/orders', { lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });
    if (placed.status !== 202) throw new Error(`placing an order: ${placed.status} ${JSON.stringify(placed.body)}`);
    return placed.body.orderId;
  };
  tokens.BUYER = buyer.token!;
  tokens.SELLER = seller.token!;
  // One order for payment alone: the other operations soon cancel theirs, and a cancelled order
  // only ever answers a payment with 409.
  await writeFile(join(work, 'schemathesis.toml'), config({
    orders: [await place()], payable: [await place()], totals: [5900], products: [productId], users: [buyer.userId!, seller.userId!],
  }));
});

test.after.always(async () => {
  await system?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

for (const role of ['BUYER', 'SELLER'] as const) {
  test.serial(`schemathesis finds nothing the document does not promise, as a ${role}`, async (t) => {
    const reportPath = join(work, `report-${role}.json`);
    const run = await runSchemathesis([
      '--config-file', join(work, 'schemathesis.toml'),
      'run', `${system.gateway.url}/openapi.json`,
      '--header', `Authorization: Bearer ${tokens[role]}`,
      '--checks', CHECKS.join(','),
      '--max-examples', String(MAX_EXAMPLES),
      '--seed', SEED,
      '--workers', '2',
      '--request-timeout', '10',
      '--generation-database', 'none',
      '--report', 'json', '--report-json-path', reportPath,
      '--no-color',
    ]);
    const report = await readFile(reportPath, 'utf8').then((text) => JSON.parse(text) as Report, () => undefined);
    if (!report) return t.fail(`schemathesis (exit ${run.code}) wrote no report:\n${run.output.slice(-20_000)}`);
    const explain = `seed ${SEED}, ${report.test_cases.generated} cases, stop: ${report.stop_reason}\n${run.output.slice(-20_000)}`;
    t.deepEqual(report.failures, [], explain);
    t.deepEqual(report.errors, [], explain);
    if (run.capped) {
      // Bounded in time: judged on what ran (the report's failures above), never on how long it took.
      t.log(`interrupted at the cap after ${report.test_cases.generated} cases`);
      t.false(report.complete);
    } else {
      t.is(run.code, 0, explain);
      t.true(report.complete, explain);
    }
    t.true(report.test_cases.generated > 0, explain);
  });
}

// Request framing schemathesis does not vary: an undecodable body is the client's fault, not a 500.
test.serial('a body that does not decode as its Content-Encoding is a 400 in the error shape', async (t) => {
  for (const encoding of ['gzip', 'deflate', 'br']) {
    const r = await new Api(system.gateway.url).call<ErrorBody>('POST', '/auth/login', '{"email":"a@example.com","password":"x"}', { 'content-encoding': encoding });
    t.is(r.status, 400, `${encoding}: ${JSON.stringify(r.body)}`);
    t.is(r.body.error.field, 'body');
    t.is(r.headers.get('content-type'), 'application/json; charset=utf-8');
  }
});

/** Path ids, order lines and payment amounts from the dictionaries half the time, generated the other half. */
function config(ids: Record<'orders' | 'payable' | 'totals' | 'products' | 'users', readonly (string | number)[]>): string {
  const dictionaries = Object.entries(ids).map(([name, values]) => `[dictionaries.${name}]\nvalues = ${JSON.stringify(values)}\n`).join('');
  // Disjoint filters, so that no operation depends on how schemathesis merges two that match it.
  return `${dictionaries}
[[operations]]
include-path = "/orders/{id}/payment"
parameters = { "path.id" = { dictionary = "payable", probability = 0.5 }, "body.amount" = { dictionary = "totals", probability = 0.5 } }

[[operations]]
include-path-regex = "^/orders/"
exclude-path = "/orders/{id}/payment"
parameters = { "path.id" = { dictionary = "orders", probability = 0.5 } }

[[operations]]
include-path-regex = "^/products/"
parameters = { "path.id" = { dictionary = "products", probability = 0.5 } }

[[operations]]
include-path-regex = "^/auth/user/"
parameters = { "path.userId" = { dictionary = "users", probability = 0.5 } }

[[operations]]
include-path = "/orders"
include-method = "POST"
parameters = { "body.lines[*].productId" = { dictionary = "products", probability = 0.5 } }
`;
}

/** Runs schemathesis in `work` (it may write caches there), interrupting it at the cap. */
function runSchemathesis(args: string[]): Promise<{ code: number | null; capped: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(schemathesis, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { output += b.toString(); });
    let capped = false;
    let killer: NodeJS.Timeout | undefined;
    // SIGINT makes schemathesis stop and still write its report; SIGKILL if it does not.
    const cap = setTimeout(() => {
      capped = true;
      child.kill('SIGINT');
      killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 15_000);
    }, CAP_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(cap);
      clearTimeout(killer);
      resolve({ code, capped, output });
    });
  });
}
