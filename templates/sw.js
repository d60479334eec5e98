{% load static %}// Cobuild's service worker (served at /sw.js by activities.views_offline).
// - Static files: from the cache when their name carries a content hash (they never change),
//   otherwise from the network first.
// - The home page and the activity form (/activities/new/…): from the network first, the last
//   copy when offline, so a secretary can open them (and see 待发送) without a connection.
//   Signing out deletes these copies (offline.js).
// - Background sync: sends the outbox (outbox.js) when the connection returns.
importScripts("{% static 'js/outbox.js' %}");

var STATIC_CACHE = "cobuild-static";
var PAGES_CACHE = "cobuild-pages";
var STATIC_PREFIX = "{% get_static_prefix %}";
var OFFLINE_PAGES = /^\/(activities\/new\/)?$/;
var HASHED = /\.[0-9a-f]{12}\.[a-z0-9]+$/;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function networkFirst(request, cacheName) {
  return fetch(request).then(
    function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(cacheName).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    },
    function (error) {
      return caches.match(request, { cacheName: cacheName }).then(function (cached) {
        if (cached) return cached;
        throw error;
      });
    }
  );
}

// Pages: the network first; when it fails, the last copy. /activities/new/ redirects to the form
// of the secretary's only pairing (the browser follows that redirect itself): offline, it
// redirects to the form kept.
function page(request) {
  return fetch(request).then(
    function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(PAGES_CACHE).then(function (cache) { cache.put(request.url, copy); });
      }
      return response;
    },
    function (error) {
      return caches.open(PAGES_CACHE).then(function (cache) {
        return cache.match(request.url, { ignoreVary: true }).then(function (cached) {
          if (cached) return cached;
          var url = new URL(request.url);
          if (url.pathname !== "/activities/new/" || url.search) throw error;
          return cache.keys().then(function (requests) {
            var form = requests.filter(function (r) { return r.url.indexOf("/activities/new/?pairing=") !== -1; })[0];
            if (!form) throw error;
            return Response.redirect(form.url, 302);
          });
        });
      });
    }
  );
}

function cacheFirst(request) {
  return caches.match(request, { cacheName: STATIC_CACHE }).then(function (cached) {
    return cached || networkFirst(request, STATIC_CACHE);
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(STATIC_PREFIX) === 0) {
    event.respondWith(HASHED.test(url.pathname) ? cacheFirst(request) : networkFirst(request, STATIC_CACHE));
  } else if (request.mode === "navigate" && OFFLINE_PAGES.test(url.pathname)) {
    event.respondWith(page(request));
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag !== CobuildOutbox.SYNC_TAG) return;
  event.waitUntil(
    CobuildOutbox.flush().then(function (results) {
      var answers = results.map(function (r) {
        return { outcome: r.outcome, url: r.url, entry: { clientId: r.entry.clientId, title: r.entry.title } };
      });
      var told = answers.length
        ? self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (clients) {
            clients.forEach(function (client) { client.postMessage({ type: "outbox-results", results: answers }); });
          })
        : Promise.resolve();
      return told.then(function () {
        // Still no connection for some: fail, so the browser fires the sync again later.
        if (results.some(function (r) { return r.outcome === "offline"; })) throw new Error("outbox: offline");
      });
    })
  );
});
