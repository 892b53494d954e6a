// The reference server of `cargo xtask bench`: the JS automerge-repo sync
// server, unmodified, set up as automerge-repo-sync-server sets it up
// (WebSocket server adapter, NodeFS storage, sharePolicy false), so our
// server's figures are measured next to what people would otherwise run.
//
//   node server.mjs STORAGE_DIR [--max-seconds N]
//
// Listens on 127.0.0.1 on a free port and prints that port, alone on one
// line, on stdout once it accepts connections. Stops by itself: on SIGTERM or
// SIGINT (after writing what is still unsaved to storage), when its stdin
// closes (the bench that started it is gone), or after --max-seconds
// (default 3600). Diagnostics go to stderr.

import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { createServer } from "node:http"
import { WebSocketServer } from "ws"

const log = (...args) => console.error(new Date().toISOString(), "[reference]", ...args)

function parseArgs(argv) {
  const options = { dir: null, maxSeconds: 3600 }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--max-seconds") {
      options.maxSeconds = Number(argv[++i])
    } else if (options.dir === null) {
      options.dir = argv[i]
    } else {
      throw new Error(`unexpected argument ${argv[i]}`)
    }
  }
  if (!options.dir) throw new Error("usage: node server.mjs STORAGE_DIR [--max-seconds N]")
  if (!(options.maxSeconds > 0)) throw new Error("--max-seconds must be a positive number")
  return options
}

let options
try {
  options = parseArgs(process.argv.slice(2))
} catch (e) {
  log(e.message)
  process.exit(2)
}

// As automerge-repo-sync-server: an HTTP server whose upgrades go to a WebSocket server.
const wss = new WebSocketServer({ noServer: true })
const http = createServer((request, response) => {
  response.writeHead(200, { "content-type": "text/plain" })
  response.end("reference automerge-repo sync server\n")
})
http.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, ws => wss.emit("connection", ws, request))
})

const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(options.dir),
  peerId: `reference-server-${process.pid}`,
  // As automerge-repo-sync-server: only sync documents a peer asks for by id.
  sharePolicy: async () => false,
})

// The adapter starts taking connections only once the repo knows its storage id; a connection
// accepted before that would never be answered. The repo connects its adapters in a reaction to
// this promise registered before ours, so after it they are connected.
await repo.networkSubsystem.peerMetadata
if (wss.listenerCount("connection") === 0) {
  log("the WebSocket adapter did not connect")
  process.exit(1)
}

http.on("error", e => {
  log("server error:", e.message)
  process.exit(1)
})
http.listen(0, "127.0.0.1", () => {
  const { port } = http.address()
  log(`listening on 127.0.0.1:${port}, storing in ${options.dir}`)
  process.stdout.write(`${port}\n`)
})

let stopping = false
// Stops taking connections, writes what is unsaved, and then lets Node exit by itself: only once
// the event loop is empty are the repo's own throttled saves finished too. Exiting right after
// flush() would cut a save short and leave a truncated file behind.
async function stop(reason, code) {
  if (stopping) return
  stopping = true
  log(`stopping: ${reason}`)
  // Never hang on the way out.
  setTimeout(() => {
    log("still busy 10 s after being asked to stop; exiting anyway")
    process.exit(code === 0 ? 1 : code)
  }, 10_000).unref()
  process.exitCode = code
  process.stdin.destroy()
  http.close()
  // Closing the WebSocket server disconnects the adapter, which clears its keep-alive timer.
  wss.close()
  for (const client of wss.clients) client.terminate()
  try {
    await repo.flush()
  } catch (e) {
    log("flush failed:", e.message)
    process.exitCode = 1
  }
}

process.on("SIGTERM", () => void stop("SIGTERM", 0))
process.on("SIGINT", () => void stop("SIGINT", 0))
process.stdin.on("end", () => void stop("stdin closed", 0))
process.stdin.on("error", () => void stop("stdin failed", 0))
process.stdin.resume()
setTimeout(() => void stop(`ran for --max-seconds ${options.maxSeconds}`, 1), options.maxSeconds * 1000).unref()
