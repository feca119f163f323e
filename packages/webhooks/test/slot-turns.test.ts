import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { SlotTurns } from '../src/slot-turns.js'

// No poll unless a test asks for one: a turn then comes only from a place given back.
const NO_POLL = 3_600_000

t.test('only as many deliveries wait as places came back lately; a place given back wakes the first of them', async (t) => {
  const turns = new SlotTurns({ waitMs: 400, pollMs: NO_POLL })
  t.equal(await turns.turn('a', Date.now()), false, 'no place came back yet: nothing to wait for')

  for (let i = 0; i < 3; i++) turns.given('a')
  const woken: number[] = []
  const waits = [0, 1, 2].map(async (i) => { const turn = await turns.turn('a', Date.now()); if (turn) woken.push(i); return turn })
  t.equal(await turns.turn('a', Date.now()), false, 'a fourth is refused: three places came back')
  t.equal(await turns.turn('b', Date.now()), false, 'another endpoint\'s places are its own')

  turns.given('a')
  turns.given('a')
  await sleep(10)
  t.same(woken, [0, 1], 'first come, first served')
  // A try that failed goes back to the front, past the allowance.
  const again = turns.turn('a', Date.now(), true)
  turns.next('a')
  t.equal(await again, true, 'the one that tried again is first')
  turns.next('a')
  t.same(await Promise.all(waits), [true, true, true])
})

t.test('a waiter nobody wakes is told so when its wait is over; a quiet endpoint is not waited for', async (t) => {
  const turns = new SlotTurns({ waitMs: 150, pollMs: NO_POLL })
  turns.given('a')
  const started = Date.now()
  t.equal(await turns.turn('a', started), false)
  t.ok(Date.now() - started >= 140, 'it waited out its wait first')
  t.equal(await turns.turn('a', started), false, 'a wait that is over does not start again')
  // Two windows without a place given back: the endpoint holds its places (a stalling receiver).
  await sleep(320)
  t.equal(await turns.turn('a', Date.now()), false, 'nothing came back lately: no waiting')
})

t.test('the first waiter is polled for places other workers gave back, and the poll stops when nobody waits', async (t) => {
  const turns = new SlotTurns({ waitMs: 2000, pollMs: 20 })
  turns.given('a')
  turns.given('a')
  const first = turns.turn('a', Date.now())
  const second = turns.turn('a', Date.now())
  t.equal(await first, true, 'the poll woke the first')
  t.equal(await second, true, 'and then the second')
  // With nobody waiting no timer is left behind: the process ends (tap would time out otherwise).
})
