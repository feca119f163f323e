// Prints the absolute path of the Node.js the project runs on, for tools outside it: this one
// when it is supported, else the pinned Node 24 (fetched first when it is not cached yet).
import { isSupported, pinnedNodePath } from './lib/node-runtime.mjs'

try {
  console.log(isSupported() ? process.execPath : pinnedNodePath())
} catch (err) {
  console.error(err.message)
  process.exit(1)
}
