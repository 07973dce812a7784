/**
 * Schema evolution rules, with reasons. Whether a reader schema can read what a writer schema
 * wrote is decided by avsc's resolver (Avro's resolution rules); since its errors are terse
 * (`cannot read "int" as "string"`) and Apicurio's verbose compatibility checks give no
 * messages, a structural comparison explains each breakage by field path, in terms of the
 * change from the old schema to the new one.
 */
import avsc from 'avsc';

export type CompatibilityLevel =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

export const COMPATIBILITY_LEVELS: readonly CompatibilityLevel[] = [
  'NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE',
];

/**
 * `backward`: the new schema must read records written with an old one (new consumers, old
 * records). `forward`: an old schema must read records written with the new one (old
 * consumers, new records).
 */
export type Direction = 'backward' | 'forward';

export interface Breakage {
  readonly direction: Direction;
  /** The registered version the new schema was compared with. */
  readonly version: number;
  readonly message: string;
}

export interface RegisteredVersion {
  readonly version: number;
  /** Schema text. */
  readonly schema: string;
}

/** Breakages of `next` against registered `versions` (ascending) under `level`; empty: compatible. */
export function checkEvolution(
  next: string,
  versions: readonly RegisteredVersion[],
  level: CompatibilityLevel,
): Breakage[] {
  if (level === 'NONE' || versions.length === 0) return [];
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? versions : versions.slice(-1);
  const directions: Direction[] = level.startsWith('BACKWARD')
    ? ['backward']
    : level.startsWith('FORWARD')
      ? ['forward']
      : ['backward', 'forward'];
  const nextType = parse(next);
  const out: Breakage[] = [];
  for (const old of against) {
    const oldType = parse(old.schema);
    for (const direction of directions) {
      const messages = direction === 'backward' ? explainRead(nextType, oldType, 'backward') : explainRead(oldType, nextType, 'forward');
      for (const message of messages) out.push({ direction, version: old.version, message });
    }
  }
  return out;
}

/**
 * Why `reader` cannot read records written with `writer` (empty: it can). `direction` words the
 * reasons as a change from old to new: backward = reader is new, forward = reader is old.
 */
export function explainRead(reader: avsc.Type, writer: avsc.Type, direction: Direction): string[] {
  try {
    reader.createResolver(writer);
    return [];
  } catch (err) {
    const reasons: string[] = [];
    compare(reader, writer, '', direction, reasons);
    const consequence = CONSEQUENCE[direction];
    return reasons.length > 0
      ? reasons.map((r) => `${r}; ${consequence}`)
      : [`${String(err instanceof Error ? err.message : err)}; ${consequence}`];
  }
}

// ---- implementation ----

const CONSEQUENCE: Record<Direction, string> = {
  backward: 'old records cannot be read',
  forward: 'old consumers cannot read new records',
};

function parse(schema: string): avsc.Type {
  return avsc.Type.forSchema(JSON.parse(schema) as avsc.Schema);
}

/** Writer type → reader types it may be promoted to (Avro spec, "Schema Resolution"). */
const PROMOTIONS: Record<string, string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

function base(type: avsc.Type): avsc.Type {
  return type.typeName.startsWith('logical:') ? (type as avsc.types.LogicalType).underlyingType : type;
}

function kind(type: avsc.Type): string {
  const t = base(type).typeName;
  return t.startsWith('union') ? 'union' : t;
}

function shortName(type: avsc.Type): string {
  const name = base(type).name ?? kind(type);
  return name.slice(name.lastIndexOf('.') + 1);
}

/** How a type is named in a message: `int`, `string`, `record DeliveryAddress`, `enum Status`, `null or string`. */
function label(type: avsc.Type): string {
  const k = kind(type);
  if (k === 'union') return (base(type) as avsc.types.UnwrappedUnionType).types.map(label).join(' or ');
  if (k === 'record' || k === 'enum' || k === 'fixed') return `${k} ${shortName(type)}`;
  if (k === 'array') return `array of ${label((base(type) as avsc.types.ArrayType).itemsType as avsc.Type)}`;
  if (k === 'map') return `map of ${label((base(type) as avsc.types.MapType).valuesType as avsc.Type)}`;
  return k;
}

function names(type: avsc.Type): string[] {
  const t = base(type);
  return [t.name ?? '', ...(t.aliases ?? [])].map((n) => n.slice(n.lastIndexOf('.') + 1));
}

/** Whether a reader type could read a writer type at all (ignoring what is inside). */
function matches(reader: avsc.Type, writer: avsc.Type): boolean {
  const r = kind(reader);
  const w = kind(writer);
  if (r === 'union' || w === 'union') return true;
  if (r === 'record' || r === 'enum' || r === 'fixed') return r === w && names(reader).includes(shortName(writer));
  return r === w || (PROMOTIONS[w] ?? []).includes(r);
}

function at(path: string): string {
  return path === '' ? 'the value' : `field ${path}`;
}

/** Old → new, whichever of reader and writer is the new one. */
function change(reader: avsc.Type, writer: avsc.Type, direction: Direction): [avsc.Type, avsc.Type] {
  return direction === 'backward' ? [writer, reader] : [reader, writer];
}

function compare(reader: avsc.Type, writer: avsc.Type, path: string, direction: Direction, out: string[]): void {
  const r = kind(reader);
  const w = kind(writer);
  const [oldT, newT] = change(reader, writer, direction);

  if (w === 'union' || r === 'union') {
    const writerBranches = w === 'union' ? (base(writer) as avsc.types.UnwrappedUnionType).types : [writer];
    const readerBranches = r === 'union' ? (base(reader) as avsc.types.UnwrappedUnionType).types : [reader];
    for (const wb of writerBranches) {
      const rb = readerBranches.find((b) => matches(b, wb) && kind(b) === kind(wb)) ?? readerBranches.find((b) => matches(b, wb));
      if (rb === undefined) {
        out.push(
          direction === 'backward'
            ? `${at(path)} no longer accepts ${label(wb)} (changed type ${label(oldT)} → ${label(newT)})`
            : `${at(path)} now may hold ${label(wb)}, which the old schema does not accept (changed type ${label(oldT)} → ${label(newT)})`,
        );
      } else {
        compare(rb, wb, path, direction, out);
      }
    }
    return;
  }

  if (!matches(reader, writer)) {
    if (r === w && (r === 'record' || r === 'enum' || r === 'fixed')) {
      out.push(`${at(path)}: ${r} renamed ${shortName(oldT)} → ${shortName(newT)} without an alias`);
    } else {
      out.push(`${at(path)} changed type ${label(oldT)} → ${label(newT)}`);
    }
    return;
  }

  switch (r) {
    case 'record': {
      const rf = (base(reader) as avsc.types.RecordType).fields;
      const wf = (base(writer) as avsc.types.RecordType).fields;
      for (const field of rf) {
        const fieldPath = path === '' ? field.name : `${path}.${field.name}`;
        const source = wf.find((f) => f.name === field.name || (field.aliases ?? []).includes(f.name));
        if (source === undefined) {
          if (field.defaultValue() === undefined) {
            out.push(
              direction === 'backward'
                ? `added field '${fieldPath}' has no default`
                : `removed field '${fieldPath}' has no default`,
            );
          }
        } else {
          compare(field.type, source.type, fieldPath, direction, out);
        }
      }
      return;
    }
    case 'enum': {
      const readerEnum = base(reader) as avsc.types.EnumType & { default?: string };
      if (readerEnum.default !== undefined) return;
      const missing = (base(writer) as avsc.types.EnumType).symbols.filter((s) => !readerEnum.symbols.includes(s));
      for (const symbol of missing) {
        out.push(
          direction === 'backward'
            ? `${at(path)}: enum ${shortName(reader)} symbol ${symbol} removed/renamed (and the enum has no default)`
            : `${at(path)}: enum ${shortName(reader)} symbol ${symbol} added (and the old enum has no default)`,
        );
      }
      return;
    }
    case 'fixed': {
      const rs = (base(reader) as avsc.types.FixedType).size;
      const ws = (base(writer) as avsc.types.FixedType).size;
      if (rs !== ws) {
        const [o, n] = direction === 'backward' ? [ws, rs] : [rs, ws];
        out.push(`${at(path)}: fixed ${shortName(reader)} changed size ${o} → ${n}`);
      }
      return;
    }
    case 'array':
      compare(
        (base(reader) as avsc.types.ArrayType).itemsType as avsc.Type,
        (base(writer) as avsc.types.ArrayType).itemsType as avsc.Type,
        `${path}[]`,
        direction,
        out,
      );
      return;
    case 'map':
      compare(
        (base(reader) as avsc.types.MapType).valuesType as avsc.Type,
        (base(writer) as avsc.types.MapType).valuesType as avsc.Type,
        `${path}{}`,
        direction,
        out,
      );
      return;
    default:
      return;
  }
}
