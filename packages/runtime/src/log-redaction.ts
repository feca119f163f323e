import pino, { type LoggerOptions } from 'pino'

/** What pino calls with a log object's value at one key; ours and Fastify's take `any`. */
export type LogSerializer = (value: any) => unknown

/**
 * One level of the redact paths: the keys censored here, the subtree under each named key, and the
 * subtree under any key (`*`). A named key's subtree already holds the `*` one's paths, as pino's do.
 */
interface PathNode {
  censor: Set<string>
  named: Map<string, PathNode>
  any: PathNode | undefined
}

const emptyNode = (): PathNode => ({ censor: new Set(), named: new Map(), any: undefined })

/** `a.b`, `*.b`, `a["b-c"]` into their segments. */
function segmentsOf (path: string): string[] {
  const segments = [...path.matchAll(/[^.[\]]+|\[(["'`])(.*?)\1\]/g)].map((m) => m[2] ?? m[0])
  if (segments.length === 0 || segments.at(-1) === '*') throw new Error(`redact path "${path}": must end in a key`)
  return segments
}

function merged (a: PathNode | undefined, b: PathNode | undefined): PathNode | undefined {
  if (a === undefined || b === undefined) return a ?? b
  const node: PathNode = { censor: new Set([...a.censor, ...b.censor]), named: new Map(), any: merged(a.any, b.any) }
  for (const key of new Set([...a.named.keys(), ...b.named.keys()])) node.named.set(key, merged(a.named.get(key), b.named.get(key)) as PathNode)
  return node
}

/** A named key also matches `*`: fold the `*` subtree into every named one, all the way down. */
function withWildcardsFolded (node: PathNode): PathNode {
  const any = node.any === undefined ? undefined : withWildcardsFolded(node.any)
  const named = new Map([...node.named].map(([key, child]) => [key, withWildcardsFolded(merged(child, node.any) as PathNode)]))
  return { censor: node.censor, named, any }
}

function pathTree (paths: readonly string[]): PathNode {
  const root = emptyNode()
  for (const path of paths) {
    const segments = segmentsOf(path)
    let node = root
    for (const segment of segments.slice(0, -1)) {
      if (segment === '*') node = node.any ??= emptyNode()
      else {
        const next = node.named.get(segment) ?? emptyNode()
        node.named.set(segment, next)
        node = next
      }
    }
    node.censor.add(segments.at(-1) as string)
  }
  return withWildcardsFolded(root)
}

const childOf = (node: PathNode, key: string): PathNode | undefined => node.named.get(key) ?? node.any

function censoredKeys (node: PathNode, into = new Set<string>()): Set<string> {
  for (const key of node.censor) into.add(key)
  for (const child of [...node.named.values(), ...(node.any === undefined ? [] : [node.any])]) censoredKeys(child, into)
  return into
}

/**
 * `value` with every path of `node` below it censored. Copy on write: an object with nothing to
 * censor is returned as it is (a log line's usual case, and no garbage), one with something is
 * copied with its prototype (a `toJSON` keeps working) and never changed in place: the caller's
 * objects are the caller's. Only as deep as the paths go, so a cycle ends there too.
 */
function redactBelow (value: unknown, node: PathNode, censor: string): unknown {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value
  const source = value as Record<string, unknown>
  let copy: Record<string, unknown> | undefined
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue
    const inner = source[key]
    let next: unknown
    if (node.censor.has(key)) next = censor
    else {
      const child = childOf(node, key)
      if (child === undefined) continue
      next = redactBelow(inner, child, censor)
    }
    if (next === inner) continue
    copy ??= (Array.isArray(source) ? [...source] : Object.assign(Object.create(Object.getPrototypeOf(source) as object | null) as object, source)) as Record<string, unknown>
    copy[key] = next
  }
  return copy ?? value
}

/**
 * Redaction of `paths` in pino's terms, without pino's `redact` option. pino's redaction (through
 * @pinojs/redact) clones and walks every top-level value of every line for each path beginning
 * with `*`, some 8-9 times the cost of the line without it (bench row "a log line"); this walks each
 * value once, only as deep as the paths reach, and copies only what it censors.
 *
 * Same result as pino's, which the runtime tests check line by line: a path applies to what a
 * serializer made of a value, not to what was logged (the serializers returned here censor their
 * own output, and the `log` and `bindings` formatters, which pino calls before serializing, leave
 * those keys alone); a top-level key's `undefined` is left out as pino leaves it out. A child
 * logger's bindings, which pino formats once and keeps as JSON text (its `bindings` formatter is
 * not used for children), are redacted when the child is made: only when that text holds one of the
 * censored keys at all (a key in JSON text is always `"key":`) is it read back and written anew.
 */
export function redactingLogOptions (
  paths: readonly string[], censor: string, serializers: Record<string, LogSerializer>
): Required<Pick<LoggerOptions, 'serializers' | 'formatters' | 'onChild'>> {
  const root = pathTree(paths)
  const mayCensor = new RegExp(`"(?:${[...censoredKeys(root)].map((key) => JSON.stringify(key).slice(1, -1).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')).join('|')})":`)
  const serialized = new Set(Object.keys(serializers))
  const topLevel = (value: unknown, key: string): unknown => {
    if (root.censor.has(key)) return censor
    const child = childOf(root, key)
    return child === undefined ? value : redactBelow(value, child, censor)
  }
  const redactObject = (object: Record<string, unknown>): Record<string, unknown> => {
    let copy: Record<string, unknown> | undefined
    for (const key in object) {
      if (!Object.hasOwn(object, key) || serialized.has(key)) continue
      const value = object[key]
      if (value === undefined) continue
      const next = topLevel(value, key)
      if (next !== value) (copy ??= { ...object })[key] = next
    }
    return copy ?? object
  }
  return {
    serializers: Object.fromEntries(Object.entries(serializers).map(([key, serialize]) => [key, (value: unknown) => {
      const serializedValue = serialize(value)
      return serializedValue === undefined ? undefined : topLevel(serializedValue, key)
    }])),
    formatters: { log: redactObject, bindings: redactObject },
    onChild: (child) => {
      const text = (child as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? ''
      if (!mayCensor.test(text)) return
      const bindings = JSON.parse(`{${text.slice(1)}}`) as Record<string, unknown>
      const redacted = redactObject(bindings)
      if (redacted !== bindings) (child as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] = `,${JSON.stringify(redacted).slice(1, -1)}`
    }
  }
}
