import { spawnSync } from 'node:child_process'

/** True when `command --version` runs. */
export function hasCommand (command: string): boolean {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0
}

/**
 * Installs Debian packages where that is possible without asking: as root with apt-get (a
 * container, a CI machine). Says what it does first. Returns false where it cannot try.
 */
export function installDebianPackages (packages: string[], log: (message: string) => void = () => {}): boolean {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !hasCommand('apt-get')) return false
  log(`installing Debian's ${packages.join(', ')} with apt-get (root, so no password is asked)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  return spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: 'inherit', env }).status === 0
}
