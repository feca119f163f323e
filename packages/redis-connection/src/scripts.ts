import type { RedisClient } from './connections.js'

/**
 * One Lua script of ours, in a module of its own whose header names its KEYS, ARGV and replies
 * (as BullMQ's `src/commands/*.lua` do). Callers pass keys and arguments by name; the reply reads
 * as named codes, not bare numbers.
 */
export interface ScriptSpec<K extends string, A extends string, R> {
  /** The command it is defined as on a connection: `ro` and what it does. */
  name: string
  /** KEYS, in order. */
  keys: readonly K[]
  /** ARGV, in order. */
  args: readonly A[]
  lua: string
  /** The raw reply as its caller reads it. */
  reply: (raw: unknown) => R
}

/** @public (named by the declarations of every script module) */
export interface RedisScript<K extends string, A extends string, R> {
  /**
   * Defines the script on the connection, once. Call it when the connection is set up, never on
   * first use alone: an ioredis pipeline knows only the scripts defined before it was made, so a
   * first call of a newer one inside an auto-pipeline breaks that whole pipeline (an uncaught
   * 'results[i] is not iterable').
   */
  define: (redis: RedisClient) => void
  /** Runs it (EVALSHA, EVAL when Redis does not know it yet, as ioredis's defined commands do). */
  run: (redis: RedisClient, keys: Readonly<Record<K, string>>, args: Readonly<Record<A, string | number>>) => Promise<R>
}

type Command = (...values: string[]) => Promise<unknown>

export function redisScript<K extends string, A extends string, R> (spec: ScriptSpec<K, A, R>): RedisScript<K, A, R> {
  const define = (redis: RedisClient): void => {
    if (!(spec.name in redis)) redis.defineCommand(spec.name, { numberOfKeys: spec.keys.length, lua: spec.lua })
  }
  const nKeys = spec.keys.length
  return {
    define,
    // On the request path: one array, no spread, no async frame of its own.
    run (redis, keys, args) {
      define(redis)
      const values = new Array<string>(nKeys + spec.args.length)
      for (let i = 0; i < nKeys; i++) values[i] = keys[spec.keys[i] as K]
      for (let i = 0; i < spec.args.length; i++) values[nKeys + i] = String(args[spec.args[i] as A])
      const command = (redis as unknown as Record<string, Command>)[spec.name] as Command
      return command.apply(redis, values).then(spec.reply)
    }
  }
}

/** Reads a reply that is one of `codes` by its number (0 → codes[0] …); any other number throws. */
export function codeReply<C extends string> (codes: readonly C[]): (raw: unknown) => C {
  return (raw) => {
    const code = codes[Number(raw)]
    if (code === undefined) throw new Error(`a script answered ${String(raw)}, not one of ${codes.join(', ')}`)
    return code
  }
}
