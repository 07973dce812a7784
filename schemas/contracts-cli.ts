/**
 * npm run contracts -- <command> [options]
 *
 *   check      compare every local contract (or one --schema file) with the registry;
 *              exit 1 with the reasons when any is incompatible
 *   register   check, then register and set each subject's compatibility level;
 *              exit 1 when any is refused
 *   list       subjects, their versions and schema ids, and compatibility levels
 *
 * Options:
 *   --registry URL       Confluent-compatible registry (default: SCHEMA_REGISTRY_URL)
 *   --prefix P           put P before every topic name (subjects P<topic>-value); tests, staging
 *   --subject S --schema FILE
 *                        check/register one schema file under one subject instead of all
 *   --config FILE        compatibility levels (default schemas/compatibility.json)
 *   --level LEVEL        one level for every subject, overriding the config
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Client } from '@confluentinc/schemaregistry';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compat.ts';
import {
  checkSubject, contracts, formatCheck, levelFor, listSubjects, loadCompatibilityConfig, registerSubject,
  type CompatibilityConfig,
} from './contracts.ts';
import { remoteRegistry } from './registry.ts';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = 'usage: npm run contracts -- check|register|list [--registry URL] [--prefix P] [--subject S --schema FILE] [--config FILE] [--level LEVEL]';

/** Runs the CLI; resolves to the exit code (0 ok, 1 incompatible/refused, 2 usage or setup error). */
export async function runContractsCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    io.err(`${String(err instanceof Error ? err.message : err)}\n${USAGE}`);
    return 2;
  }
  const url = opts.registry ?? env.SCHEMA_REGISTRY_URL ?? '';
  if (url.trim() === '') {
    io.err('no registry: set SCHEMA_REGISTRY_URL (or pass --registry URL); the embedded registry lives only inside a running process');
    return 2;
  }
  let config: CompatibilityConfig;
  try {
    config = opts.config === undefined ? loadCompatibilityConfig() : loadCompatibilityConfig(opts.config);
  } catch (err) {
    io.err(String(err instanceof Error ? err.message : err));
    return 2;
  }
  const { client } = remoteRegistry(url);
  try {
    switch (opts.command) {
      case 'list':
        return await list(client, opts, io);
      case 'check':
      case 'register':
        return await checkOrRegister(client, opts, config, io);
    }
  } catch (err) {
    io.err(`registry ${url}: ${String(err instanceof Error ? err.message : err)}`);
    return 2;
  }
}

// ---- implementation ----

interface Options {
  command: 'check' | 'register' | 'list';
  registry?: string;
  prefix: string;
  subject?: string;
  schema?: string;
  config?: string;
  level?: CompatibilityLevel;
}

function parseArgs(argv: readonly string[]): Options {
  const [command, ...rest] = argv;
  if (command !== 'check' && command !== 'register' && command !== 'list') throw new Error(`unknown command ${JSON.stringify(command ?? '')}`);
  const opts: Options = { command, prefix: '' };
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i];
    const value = rest[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag ?? ''} needs a value`);
    switch (flag) {
      case '--registry': opts.registry = value; break;
      case '--prefix': opts.prefix = value; break;
      case '--subject': opts.subject = value; break;
      case '--schema': opts.schema = value; break;
      case '--config': opts.config = value; break;
      case '--level':
        if (!(COMPATIBILITY_LEVELS as readonly string[]).includes(value)) throw new Error(`--level must be one of ${COMPATIBILITY_LEVELS.join(', ')}`);
        opts.level = value as CompatibilityLevel;
        break;
      default: throw new Error(`unknown option ${flag ?? ''}`);
    }
  }
  if ((opts.subject === undefined) !== (opts.schema === undefined)) throw new Error('--subject and --schema go together');
  return opts;
}

async function checkOrRegister(client: Client, opts: Options, config: CompatibilityConfig, io: CliIo): Promise<number> {
  const targets =
    opts.subject !== undefined && opts.schema !== undefined
      ? [{ subject: opts.subject, schema: JSON.stringify(JSON.parse(readFileSync(opts.schema, 'utf8'))) }]
      : contracts(opts.prefix);
  let failed = 0;
  for (const { subject, schema } of targets) {
    const level = opts.level ?? levelFor(config, subject, opts.prefix);
    if (opts.command === 'check') {
      const check = await checkSubject(client, subject, schema, level);
      if (check.status === 'incompatible') failed++;
      (check.status === 'incompatible' ? io.err : io.out)(formatCheck(check));
    } else {
      const result = await registerSubject(client, subject, schema, level);
      if (result.error !== undefined) {
        failed++;
        io.err(result.check.status === 'incompatible' ? formatCheck(result.check) : `${subject}: not registered: ${result.error}`);
      } else {
        const what = result.check.status === 'unchanged' ? 'unchanged' : 'registered';
        io.out(`${subject}: ${what}, version ${result.version ?? '?'}, schema id ${result.id ?? '?'} (${level})`);
      }
    }
  }
  const verb = opts.command === 'check' ? 'incompatible' : 'refused';
  io.out(`${targets.length} subject${targets.length === 1 ? '' : 's'}, ${failed} ${verb}`);
  return failed > 0 ? 1 : 0;
}

async function list(client: Client, opts: Options, io: CliIo): Promise<number> {
  const listing = await listSubjects(client, opts.prefix);
  for (const s of listing) {
    const versions = s.versions.map((v) => `v${v.version}=id ${v.id}`).join(', ');
    io.out(`${s.subject}  [${s.compatibility ?? '?'}]  ${versions}`);
  }
  io.out(`${listing.length} subject${listing.length === 1 ? '' : 's'}`);
  return 0;
}

if (process.argv[1] !== undefined && basename(process.argv[1]) === 'contracts-cli.ts') {
  process.exitCode = await runContractsCli(process.argv.slice(2));
}
