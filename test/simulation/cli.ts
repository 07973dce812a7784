/**
 * `npm run simulate -- --seeds N [--guarantee exactly_once|effectively_once] [--orders N]`: the
 * exhaustive small scenario, then N random seeds × crash points on a larger one, with a progress
 * line per run and the summary; exit 1 on any invariant failure.
 * `--seed S --crash processor:step:phase [--again processor:instance:step:phase]` replays one run
 * (what a failure prints).
 * `--exhaustive-only`, `--random-only` pick one mode; `--parallel N` (default 3) runs at once in the exhaustive mode.
 */
import { parseArgs } from 'node:util';
import { describeSummary, exhaustive, random, reproduce, runOnce, type Guarantee, type ProcessorName, type RunOptions, type Summary } from './simulate.ts';
import type { CrashPhase } from './crashing-transport.ts';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10' },
    guarantee: { type: 'string' },
    orders: { type: 'string' },
    seed: { type: 'string' },
    crash: { type: 'string' },
    again: { type: 'string' },
    'exhaustive-only': { type: 'boolean', default: false },
    'random-only': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    parallel: { type: 'string', default: '3' },
  },
});
const guarantees: Guarantee[] = values.guarantee ? [values.guarantee as Guarantee] : ['exactly_once', 'effectively_once'];
for (const g of guarantees) if (g !== 'exactly_once' && g !== 'effectively_once') throw new Error(`--guarantee exactly_once|effectively_once, not ${g}`);
const progress = values.quiet ? undefined : (line: string) => process.stdout.write(`${line}\n`);

let failed = false;
if (values.seed) {
  const [processor, step, phase] = (values.crash ?? '').split(':');
  for (const guarantee of guarantees) {
    const [ap, ai, as, aph] = (values.again ?? '').split(':');
    const options: RunOptions = {
      seed: values.seed, orders: Number(values.orders ?? 3), guarantee,
      ...(values.crash ? { crash: { processor: processor as ProcessorName, step: Number(step), phase: (phase ?? 'before') as CrashPhase } } : {}),
      ...(values.again ? { again: { processor: ap as ProcessorName, instance: Number(ai), step: Number(as), phase: (aph ?? 'before') as CrashPhase } } : {}),
    };
    const r = await runOnce(options);
    process.stdout.write(`${reproduce(options)}: steps ${JSON.stringify(r.steps)}, crashed at ${r.crashedAt ? `${r.crashedAt.n} (${r.crashedAt.kind})` : 'none'}${r.againAt ? `, again at ${r.againAt.n} (${r.againAt.kind})` : ''}, ${r.ms} ms, ${r.failures.length} failures\n${r.failures.join('\n')}\n`);
    failed ||= r.failures.length > 0;
  }
} else {
  const summaries: Summary[] = [];
  for (const guarantee of guarantees) {
    if (!values['random-only']) summaries.push(await exhaustive({ seed: 'small-1', orders: Number(values.orders ?? 3), guarantee, parallel: Number(values.parallel), ...(progress ? { progress } : {}) }));
    if (!values['exhaustive-only']) summaries.push(await random({ seeds: Number(values.seeds), orders: Number(values.orders ?? 10), guarantee, pointsPerSeed: 3, ...(progress ? { progress } : {}) }));
  }
  for (const s of summaries) process.stdout.write(`${describeSummary(s)}\n`);
  failed = summaries.some((s) => s.failures.length > 0);
}
process.exit(failed ? 1 : 0);
