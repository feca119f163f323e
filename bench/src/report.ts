import { readFileSync } from 'node:fs'

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/** A plain two-column table for the terminal and for pasting into the docs (Markdown). */
export function printTable (title: string, rows: Array<[string, string | number]>): void {
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log(`\n| ${title.padEnd(width)} | value |\n|${'-'.repeat(width + 2)}|-------|`)
  for (const [k, v] of rows) console.log(`| ${k.padEnd(width)} | ${String(v)} |`)
}

/** A process's resident memory now and at its peak (VmRSS, VmHWM), in MB. */
export function memoryOf (pid: number): { rssMb: number, peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) }
}

/** Nanoseconds a process has spent on a CPU (user and system), from /proc/<pid>/schedstat. */
export function cpuNanos (pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0])
}
