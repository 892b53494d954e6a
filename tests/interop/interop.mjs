// Interop check: an UNMODIFIED JS automerge-repo client (Node) against the
// Veldwerk sync server.
//
//   VELDWERK_SYNC_URL_A=ws://127.0.0.1:PORT/sync?ticket=... \
//   VELDWERK_SYNC_URL_B=ws://127.0.0.1:PORT/sync?ticket=... \
//   VELDWERK_SYNC_URL_C=ws://127.0.0.1:PORT/sync?ticket=... \
//   node interop.mjs
//
// A and B belong to the same organisation, C to another one. Each URL carries
// its own single-use ticket, so each client opens exactly one connection.
//
//   a) A creates a case record and waits until the server acknowledges its heads;
//   b) B finds the document and reads the household label;
//   c) C finds the document and must be told it is unavailable.
//
// stdout gets exactly one JSON line (the report); diagnostics go to stderr
// (set DEBUG=automerge-repo:* for the library's own logging, also on stderr).
// Exit code 0 when every step succeeded, 1 otherwise.

import { next as A } from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const STEP_TIMEOUT_MS = 15_000
const WATCHDOG_MS = 90_000
const EXPECTED_LABEL = "Familie Interop"

const report = {
  documentId: null,
  createdOnServer: false,
  foundByB: false,
  labelSeenByB: null,
  unavailableForC: false,
  errors: [],
}

const log = (...args) => console.error("[interop]", ...args)
const errorText = e => (e instanceof Error ? e.message : String(e))

const repos = []
let finished = false

function finish() {
  if (finished) return
  finished = true
  for (const repo of repos) {
    for (const adapter of repo.networkSubsystem.adapters) {
      try {
        adapter.disconnect()
      } catch (e) {
        log("disconnect failed:", errorText(e))
      }
    }
  }
  const ok =
    report.errors.length === 0 &&
    report.createdOnServer &&
    report.foundByB &&
    report.labelSeenByB === EXPECTED_LABEL &&
    report.unavailableForC
  process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(ok ? 0 : 1))
  // In case the write callback never fires.
  setTimeout(() => process.exit(ok ? 0 : 1), 2_000).unref()
}

// The Node websocket client rethrows socket errors other than ECONNREFUSED
// (e.g. an HTTP 401/403 answer to the upgrade) from an event listener: record
// them instead of dying without a report.
process.on("uncaughtException", e => {
  report.errors.push(`uncaught exception: ${errorText(e)}`)
  log("uncaught exception:", e)
  finish()
})
process.on("unhandledRejection", e => {
  report.errors.push(`unhandled rejection: ${errorText(e)}`)
  log("unhandled rejection:", e)
  finish()
})
setTimeout(() => {
  report.errors.push(`watchdog: the whole scenario took longer than ${WATCHDOG_MS} ms`)
  finish()
}, WATCHDOG_MS).unref()

function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function url(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

/** A fresh, storage-less (ephemeral) Repo with one websocket connection. */
function client(name, wsUrl) {
  const adapter = new WebSocketClientAdapter(wsUrl)
  const repo = new Repo({ network: [adapter] })
  repo.networkSubsystem.on("peer", ({ peerId, peerMetadata }) =>
    log(`${name} (${repo.peerId}) connected to server peer ${peerId}, metadata ${JSON.stringify(peerMetadata)}`)
  )
  repo.networkSubsystem.on("peer-disconnected", ({ peerId }) =>
    log(`${name} lost server peer ${peerId}`)
  )
  repos.push(repo)
  return repo
}

/** Resolves with the server's peer id once the `peer` handshake reply arrived. */
function connected(repo, name) {
  const wait = new Promise(resolve => {
    if (repo.peers.length > 0) return resolve(repo.peers[0])
    repo.networkSubsystem.once("peer", ({ peerId }) => resolve(peerId))
  })
  return withTimeout(wait, STEP_TIMEOUT_MS, `${name} connects and gets a "peer" reply`)
}

/**
 * Resolves when the server's sync state says it holds all heads of the handle
 * `getHandle()` returns. Subscribe before creating the document.
 */
function serverHasHeads(repo, getHandle, serverPeerId) {
  return new Promise(resolve => {
    const onSyncState = ({ peerId, documentId, syncState }) => {
      const handle = getHandle()
      if (!handle || peerId !== serverPeerId || documentId !== handle.documentId) return
      const theirs = syncState.theirHeads ?? []
      if (A.getHeads(handle.doc()).every(h => theirs.includes(h))) {
        repo.synchronizer.off("sync-state", onSyncState)
        resolve(theirs)
      }
    }
    repo.synchronizer.on("sync-state", onSyncState)
  })
}

async function scenario() {
  const [urlA, urlB, urlC] = [url("VELDWERK_SYNC_URL_A"), url("VELDWERK_SYNC_URL_B"), url("VELDWERK_SYNC_URL_C")]

  // a) A creates the case record.
  const repoA = client("A", urlA)
  const serverA = await connected(repoA, "A")
  const initial = {
    schemaVersion: 1,
    compartment: "general",
    household: {
      label: EXPECTED_LABEL,
      address: "Kerkstraat 1, 1234 AB Veldhoven",
      addressStatus: "known",
    },
    members: {},
    visits: {},
    agreements: {},
  }
  // Listen before creating, so no sync-state event is missed.
  let handleA
  const acked = serverHasHeads(repoA, () => handleA, serverA)
  handleA = repoA.create(initial)
  report.documentId = handleA.documentId
  log(`A created ${handleA.url} with heads ${JSON.stringify(A.getHeads(handleA.doc()))}`)
  try {
    const theirs = await withTimeout(acked, STEP_TIMEOUT_MS, "the server acknowledges A's heads")
    report.createdOnServer = true
    log(`server acknowledged A's document, its heads: ${JSON.stringify(theirs)}`)
  } catch (e) {
    report.errors.push(`A: ${errorText(e)}`)
  }

  // b) B (same organisation) finds it.
  try {
    const repoB = client("B", urlB)
    await connected(repoB, "B")
    const handleB = await withTimeout(repoB.find(report.documentId), STEP_TIMEOUT_MS, "B finds the document")
    report.foundByB = true
    const doc = handleB.doc()
    report.labelSeenByB = doc?.household?.label ?? null
    log(`B found the document: ${JSON.stringify(doc)}`)
    if (report.labelSeenByB !== EXPECTED_LABEL)
      report.errors.push(`B: household label is ${JSON.stringify(report.labelSeenByB)}, expected ${JSON.stringify(EXPECTED_LABEL)}`)
  } catch (e) {
    report.errors.push(`B: ${errorText(e)}`)
  }

  // c) C (another organisation) must be told the document is unavailable.
  try {
    const repoC = client("C", urlC)
    // The rejection must come from the server's explicit answer: the client
    // also gives up on its own when it has no connected peer left.
    let toldUnavailable = false
    repoC.networkSubsystem.on("message", msg => {
      if (msg.type === "doc-unavailable" && msg.documentId === report.documentId) toldUnavailable = true
    })
    await connected(repoC, "C")
    const outcome = await withTimeout(
      repoC.find(report.documentId).then(
        handle => ({ found: true, doc: handle.doc() }),
        error => ({ found: false, error })
      ),
      STEP_TIMEOUT_MS,
      "C gets an answer (document or unavailable)"
    )
    if (outcome.found) {
      report.errors.push(`C: could read another organisation's document: ${JSON.stringify(outcome.doc)}`)
    } else {
      const state = repoC.handles[report.documentId]?.state
      log(`C's find rejected (${errorText(outcome.error)}), handle state ${state}`)
      if (state === "unavailable" && toldUnavailable) {
        report.unavailableForC = true
      } else if (!toldUnavailable) {
        report.errors.push(`C: find failed (state ${state}) without a "doc-unavailable" message from the server: ${errorText(outcome.error)}`)
      } else {
        report.errors.push(`C: find failed without "unavailable" (state ${state}): ${errorText(outcome.error)}`)
      }
    }
  } catch (e) {
    report.errors.push(`C: ${errorText(e)}`)
  }
}

scenario()
  .catch(e => {
    report.errors.push(errorText(e))
    log(e)
  })
  .finally(finish)
