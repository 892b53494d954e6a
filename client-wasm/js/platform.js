// The browser APIs the app needs, each as one small promise-returning function:
// IndexedDB, WebCrypto and WebAuthn. No decisions are made here — what to store,
// which key wraps which, when to ask for a passkey: all of that is Rust
// (client-wasm/src/). This file only turns callback and JSON-shaped browser APIs
// into calls Rust can await.

const DB_NAME = "veldwerk";
const DB_VERSION = 1;
// vault: the wrapped store key and how to unwrap it (no personal data).
// records: everything else, encrypted (case documents, caseload, who signed in).
const STORES = ["vault", "records"];

let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        for (const name of STORES) {
          if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
        }
      };
      req.onsuccess = () => {
        // Another tab deleting the database (wipe) must not be blocked by us.
        req.result.onversionchange = () => {
          req.result.close();
          opened = null;
        };
        resolve(req.result);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error("the local store is blocked by another tab"));
    });
    opened.catch(() => (opened = null));
  }
  return opened;
}

// Resolves once the transaction is durable (committed), not merely queued.
async function write(store, fn) {
  const tx = (await db()).transaction(store, "readwrite", { durability: "strict" });
  fn(tx.objectStore(store));
  await new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("local store write aborted"));
  });
}

export async function idb_get(store, key) {
  const tx = (await db()).transaction(store, "readonly");
  const value = await request(tx.objectStore(store).get(key));
  return value === undefined ? null : value;
}

export async function idb_put(store, key, value) {
  await write(store, (s) => s.put(value, key));
}

export async function idb_delete(store, key) {
  await write(store, (s) => s.delete(key));
}

export async function idb_keys(store) {
  const tx = (await db()).transaction(store, "readonly");
  return (await request(tx.objectStore(store).getAllKeys())).map(String);
}

// Deletes every local record and key: the wipe signal and "remove this device's data".
export async function idb_wipe() {
  if (opened) {
    try {
      (await opened).close();
    } catch (_) {}
    opened = null;
  }
  await request(indexedDB.deleteDatabase(DB_NAME));
}

export async function persist_storage() {
  if (navigator.storage && navigator.storage.persist) {
    return await navigator.storage.persist();
  }
  return false;
}

// ---- WebCrypto ----

const subtle = () => crypto.subtle;

export async function generate_store_key() {
  // Extractable only so it can be wrapped once; what is unwrapped later is not.
  return await subtle().generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
}

// A key-wrapping key from a passkey's PRF output.
export async function kek_from_prf(prf, salt) {
  const base = await subtle().importKey("raw", prf, "HKDF", false, ["deriveKey"]);
  return await subtle().deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: new TextEncoder().encode("veldwerk store key") },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["wrapKey", "unwrapKey"],
  );
}

// A key-wrapping key from a PIN: PBKDF2-SHA-256, slow on purpose.
export async function kek_from_pin(pin, salt, iterations) {
  const base = await subtle().importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false, [
    "deriveKey",
  ]);
  return await subtle().deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["wrapKey", "unwrapKey"],
  );
}

export async function wrap_key(key, kek, iv) {
  return new Uint8Array(await subtle().wrapKey("raw", key, kek, { name: "AES-GCM", iv }));
}

export async function unwrap_key(wrapped, kek, iv) {
  return await subtle().unwrapKey(
    "raw",
    wrapped,
    kek,
    { name: "AES-GCM", iv },
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function encrypt(key, iv, plaintext, label) {
  return new Uint8Array(
    await subtle().encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(label) }, key, plaintext),
  );
}

export async function decrypt(key, iv, ciphertext, label) {
  return new Uint8Array(
    await subtle().decrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(label) }, key, ciphertext),
  );
}

export function random_bytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

// ---- WebAuthn ----

function prfExtension(salt) {
  return salt ? { prf: { eval: { first: salt } } } : { prf: {} };
}

function prfOutput(credential) {
  const prf = credential.getClientExtensionResults().prf;
  const first = prf && prf.results && prf.results.first;
  return {
    enabled: !!(prf && (prf.enabled || first)),
    output: first ? new Uint8Array(first) : null,
  };
}

// Creates a passkey from the server's options (webauthn-rs JSON), asking for PRF.
export async function passkey_create(options, salt) {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
  publicKey.extensions = { ...(publicKey.extensions || {}), ...prfExtension(salt) };
  const credential = await navigator.credentials.create({ publicKey });
  return {
    credential: credential.toJSON(),
    credentialId: new Uint8Array(credential.rawId),
    prf: prfOutput(credential),
  };
}

// Signs in with the server's options; with a salt, also evaluates the PRF.
export async function passkey_get(options, salt) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  if (salt) publicKey.extensions = { ...(publicKey.extensions || {}), ...prfExtension(salt) };
  const credential = await navigator.credentials.get({ publicKey, mediation: options.mediation });
  return {
    credential: credential.toJSON(),
    credentialId: new Uint8Array(credential.rawId),
    prf: prfOutput(credential),
  };
}

// Unlocks offline: a local assertion with the known credential, only for its PRF output.
// The challenge is random and checked by nobody; the assertion never leaves the tablet.
export async function passkey_prf(credentialId, salt, rpId) {
  const publicKey = {
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    rpId,
    allowCredentials: [{ type: "public-key", id: credentialId }],
    userVerification: "required",
    extensions: prfExtension(salt),
  };
  const credential = await navigator.credentials.get({ publicKey });
  return {
    credentialId: new Uint8Array(credential.rawId),
    prf: prfOutput(credential),
  };
}

// ---- HTTP ----

// A request to our own server with a JSON body (already a string); answers { status, text }.
export async function fetch_json(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== null && body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = body;
  }
  const response = await fetch(path, init);
  return { status: response.status, text: await response.text() };
}

// ---- Service worker and background sync ----

export async function register_service_worker(onUpdate, onSync) {
  if (!("serviceWorker" in navigator)) return false;
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data === "veldwerk-sync") onSync();
  });
  registration.addEventListener("updatefound", () => {
    const incoming = registration.installing;
    if (!incoming) return;
    incoming.addEventListener("statechange", () => {
      if (incoming.state === "installed" && navigator.serviceWorker.controller) onUpdate();
    });
  });
  return true;
}

export async function request_background_sync() {
  if (!("serviceWorker" in navigator)) return false;
  const registration = await navigator.serviceWorker.ready;
  if (!registration.sync) return false;
  try {
    await registration.sync.register("veldwerk-sync");
    return true;
  } catch (_) {
    return false;
  }
}

export async function activate_waiting_worker() {
  const registration = await navigator.serviceWorker.getRegistration();
  if (registration && registration.waiting) registration.waiting.postMessage("skip-waiting");
}
