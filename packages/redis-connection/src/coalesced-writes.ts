import { Redis, type RedisOptions } from 'ioredis'
import { CommandDeadlines } from './command-timeout.js'

type Command = Parameters<Redis['sendCommand']>[0]
type WriteableStream = Parameters<Redis['sendCommand']>[1]
type NetStream = Redis['stream']

/**
 * A Redis client whose commands of one turn of the event loop leave in one socket write: the first
 * command of a turn corks the socket, and the turn's check phase (setImmediate) uncorks it, so
 * every command the turn's I/O callbacks sent goes out as one writev. Unlike ioredis's
 * auto-pipelining, nothing waits for an earlier batch's replies and no Pipeline is built: each
 * command is written (and answered) as it would be alone, only the syscall is shared.
 *
 * Its `commandTimeout` is not ioredis's: a command's time starts when it is written, and it fails
 * when its reply has not arrived, not when this process was too busy to read it (CommandDeadlines).
 */
export class CoalescingRedis extends Redis {
  #corked: NetStream | undefined
  readonly #deadlines: CommandDeadlines | undefined
  /** This turn's commands, written when it ends: their time starts then. */
  #unsent: Command[] = []

  constructor (url: string, options: RedisOptions) {
    const { commandTimeout, ...rest } = options
    super(url, rest)
    this.#deadlines = commandTimeout === undefined ? undefined : new CommandDeadlines(commandTimeout)
  }

  override sendCommand (command: Command, stream?: WriteableStream): unknown {
    const socket = this.stream as NetStream | undefined
    if (stream === undefined && this.#corked === undefined && socket !== undefined && this.status === 'ready') {
      socket.cork()
      this.#corked = socket
      setImmediate(() => {
        this.#corked = undefined
        socket.uncork()
        // A command's time runs from its write: a long turn (thousands of requests read at once)
        // must not use up the time of the commands it queued before they left.
        if (this.#unsent.length > 0) {
          this.#deadlines?.written(this.#unsent)
          this.#unsent = []
        }
      })
    }
    if (this.#deadlines !== undefined) {
      if (this.#corked !== undefined && stream === undefined) this.#unsent.push(command)
      else this.#deadlines.written([command])
    }
    return super.sendCommand(command, stream)
  }
}
