import { Redis } from 'ioredis'

type Command = Parameters<Redis['sendCommand']>[0]
type WriteableStream = Parameters<Redis['sendCommand']>[1]
type NetStream = Redis['stream']

/**
 * A Redis client whose commands of one turn of the event loop leave in one socket write: the first
 * command of a turn corks the socket, and the turn's check phase (setImmediate) uncorks it, so
 * every command the turn's I/O callbacks sent goes out as one writev. Unlike ioredis's
 * auto-pipelining, nothing waits for an earlier batch's replies and no Pipeline is built: each
 * command is written (and answered) as it would be alone, only the syscall is shared.
 */
export class CoalescingRedis extends Redis {
  #corked: NetStream | undefined

  override sendCommand (command: Command, stream?: WriteableStream): unknown {
    const socket = this.stream as NetStream | undefined
    if (stream === undefined && this.#corked === undefined && socket !== undefined && this.status === 'ready') {
      socket.cork()
      this.#corked = socket
      setImmediate(() => {
        this.#corked = undefined
        socket.uncork()
      })
    }
    return super.sendCommand(command, stream)
  }
}
