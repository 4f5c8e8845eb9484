import { z } from 'zod';

/**
 * Key case at the JSON boundary. Reports are written with snake_case keys while the code's types keep
 * camelCase; the zod schema of a report says which keys are field names (object shapes) and which are data
 * (record keys, left alone). Walking the value beside its schema keeps the two directions exact even where
 * a report embeds parts that are snake_case already (`ttft_ms` beside `ttftMs` in another object).
 */
export function snakeCase(key: string): string {
  // A run of capitals is one word: `frequencyGHz` → `frequency_ghz`, `throughputMBps` → `throughput_mbps`, `K` → `k`.
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

type Direction = 'snake' | 'camel';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType | null;
  in?: z.ZodType;
  out?: z.ZodType;
  innerType?: z.ZodType;
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The object shapes a schema can take at this position (unions and wrappers looked through). */
function shapesOf(schema: z.ZodType): Record<string, z.ZodType>[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      return [def.shape!];
    case 'union':
      return def.options!.flatMap(shapesOf);
    case 'intersection':
      return [...shapesOf(def.left!), ...shapesOf(def.right!)];
    case 'pipe':
      return shapesOf(def.in!);
    case 'lazy':
      return shapesOf(def.getter!());
    default:
      return def.innerType ? shapesOf(def.innerType) : [];
  }
}

/** The element or value schema of an array, tuple or record at this position, or null. */
function containerOf(schema: z.ZodType): { kind: 'array' | 'record'; at: (index: number) => z.ZodType | undefined } | null {
  const def = defOf(schema);
  switch (def.type) {
    case 'array':
      return { kind: 'array', at: () => def.element };
    case 'tuple':
      return { kind: 'array', at: (i) => def.items![i] ?? def.rest ?? undefined };
    case 'record':
      return { kind: 'record', at: () => def.valueType };
    case 'union':
      for (const option of def.options!) {
        const found = containerOf(option);
        if (found) return found;
      }
      return null;
    case 'pipe':
      return containerOf(def.in!);
    case 'lazy':
      return containerOf(def.getter!());
    default:
      return def.innerType ? containerOf(def.innerType) : null;
  }
}

/** Renames the field names of `value` (as described by `schema`) to snake_case or back to the schema's own. */
export function renameKeys(schema: z.ZodType, value: unknown, to: Direction): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const container = containerOf(schema);
    return value.map((item, i) => {
      const inner = container?.at(i);
      return inner ? renameKeys(inner, item, to) : item;
    });
  }
  const shapes = shapesOf(schema);
  if (shapes.length === 0) {
    const container = containerOf(schema);
    if (container?.kind !== 'record') return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renameKeys(container.at(0)!, v, to)]));
  }
  const fields = new Map<string, { name: string; schema: z.ZodType }>();
  for (const shape of shapes) {
    for (const [name, field] of Object.entries(shape)) {
      const key = to === 'snake' ? name : snakeCase(name);
      if (!fields.has(key)) fields.set(key, { name: to === 'snake' ? snakeCase(name) : name, schema: field });
    }
  }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const field = fields.get(k);
      return field ? [field.name, renameKeys(field.schema, v, to)] : [k, v];
    }),
  );
}

/** A JSON Schema with every property name in snake_case (record keys, `propertyNames`, stay as they are). */
export function snakeCaseJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(snakeCaseJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [snakeCase(name), snakeCaseJsonSchema(sub)]));
    } else if (k === 'required' && Array.isArray(v)) {
      out[k] = v.map((name) => (typeof name === 'string' ? snakeCase(name) : name));
    } else {
      out[k] = snakeCaseJsonSchema(v);
    }
  }
  return out;
}

/**
 * A command's `--json` result as written: the value's field names in snake_case (as its schema describes
 * them), preceded by a string `schema_version` and a `kind` naming the report, so a tool reading the file
 * knows what it holds and which version of its form.
 */
export function toJsonReport(schema: z.ZodType, value: unknown, kind: string, version: string): Record<string, unknown> {
  const body = renameKeys(schema, value, 'snake') as Record<string, unknown>;
  return { schema_version: version, kind, ...body };
}

/** The committed JSON Schema of a report written by `toJsonReport`: snake_case names, its version and kind as constants. */
export function jsonReportSchema(schema: z.ZodType, kind: string, version: string): Record<string, unknown> {
  const body = snakeCaseJsonSchema(z.toJSONSchema(schema, { target: 'draft-2020-12' })) as Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };
  return {
    $id: `urn:${kind.replace(/\./g, ':')}:${version}`,
    ...body,
    properties: { schema_version: { type: 'string', const: version }, kind: { type: 'string', const: kind }, ...(body.properties ?? {}) },
    required: ['schema_version', 'kind', ...(body.required ?? [])],
  };
}
