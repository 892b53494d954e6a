// The service worker: caches the versioned app shell so the app opens with no
// network, and passes background-sync events to the open app. The build
// replaces __VERSION__ with a hash of the shell's files, so a new build is a
// new cache; the old one is deleted only once the new worker takes over.
const VERSION = "__VERSION__";
const CACHE = `veldwerk-shell-${VERSION}`;
const SHELL = __SHELL__;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("veldwerk-shell-") && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

// The app asks the waiting worker to take over when the worker chooses "reload".
self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // The API and sync are never cached: they are the network.
  if (url.pathname.startsWith("/api/") || url.pathname === "/sync") return;
  // Navigations (/, /enroll) get the shell; assets come from the cache first.
  const request = event.request.mode === "navigate" ? new Request("/") : event.request;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(request);
      if (hit) return hit;
      return fetch(event.request);
    }),
  );
});

self.addEventListener("sync", (event) => {
  if (event.tag !== "veldwerk-sync") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((clients) => {
      for (const client of clients) client.postMessage("veldwerk-sync");
    }),
  );
});
