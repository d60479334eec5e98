// The outbox: activities finished on this phone while it was offline, kept in IndexedDB until the
// server has them. Shared by the pages (offline.js) and the service worker (sw.js), so it touches
// no DOM. The server de-duplicates by the entry's client_id, so a repeated send never logs twice.
(function (scope) {
  "use strict";

  var DB_NAME = "cobuild-outbox";
  var STORE = "entries";
  var LOCK = "cobuild-outbox";
  var flushing = null;

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function open() {
    var req = scope.indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = function () {
      req.result.createObjectStore(STORE, { keyPath: "clientId" });
    };
    return request(req);
  }

  // Run fn(store) in one transaction; resolves with fn's request result once it has committed.
  function transaction(mode, fn) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var req = fn(tx.objectStore(STORE));
        var result;
        if (req) req.onsuccess = function () { result = req.result; };
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all() {
    return transaction("readonly", function (store) { return store.getAll(); }).then(
      function (entries) {
        return (entries || []).sort(function (a, b) { return a.savedAt - b.savedAt; });
      }
    );
  }

  function get(clientId) {
    return transaction("readonly", function (store) { return store.get(clientId); });
  }

  function put(entry) {
    return transaction("readwrite", function (store) { return store.put(entry); });
  }

  function remove(clientId) {
    return transaction("readwrite", function (store) { return store.delete(clientId); });
  }

  function cookie(name) {
    if (scope.document) {
      var found = scope.document.cookie.split("; ").filter(function (part) {
        return part.indexOf(name + "=") === 0;
      })[0];
      return Promise.resolve(found ? decodeURIComponent(found.slice(name.length + 1)) : "");
    }
    if (scope.cookieStore) {
      return scope.cookieStore.get(name).then(function (c) { return c ? c.value : ""; });
    }
    return Promise.resolve("");
  }

  // Send one entry. Resolves with {outcome, ...}; writes nothing to the outbox itself:
  //   sent      the server has it (created now, or already had it): {url}
  //   invalid   the server refused what was typed: {message, errors, labels}
  //   refused   the server will not take it as it stands (no longer allowed, another account)
  //   login     the session has ended: send again after logging in
  //   offline   no connection (or the server is down): try again later
  function send(entry) {
    var body = new FormData();
    entry.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    entry.files.forEach(function (pair) { body.append(pair[0], pair[1], pair[1].name); });
    return cookie("csrftoken")
      .then(function (token) {
        return scope.fetch(entry.action, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: {
            Accept: "application/json",
            "X-CSRFToken": token || entry.csrf || "",
            "X-Cobuild-User": entry.user || "",
          },
        });
      })
      .then(
        function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") === -1) {
            if (response.status >= 500) return { outcome: "offline" };
            if (response.status === 404) {
              return { outcome: "refused", message: "该共建对子已不存在，或您已无权为它登记。" };
            }
            // Redirected to the login page, or a stale CSRF token after logging in again.
            return { outcome: "login", message: "登录已过期，请重新登录，登录后会自动发送。" };
          }
          return response.json().then(function (data) {
            if (response.ok) return { outcome: "sent", url: data.url, status: data.status };
            if (data.status === "invalid") {
              return {
                outcome: "invalid",
                message: data.message,
                errors: data.errors || {},
                labels: data.labels || {},
              };
            }
            if (data.status === "wrong_user") return { outcome: "login", message: data.message };
            return { outcome: "refused", message: data.message || "服务器拒收（" + response.status + "）" };
          });
        },
        function () {
          return { outcome: "offline" };
        }
      );
  }

  function sendWaiting(user) {
    return all().then(function (entries) {
      var results = [];
      var waiting = entries.filter(function (entry) {
        return entry.state === "waiting" && (!user || entry.user === user);
      });
      return waiting
        .reduce(function (chain, entry) {
          return chain.then(function () {
            return send(entry).then(function (result) {
              result.entry = entry;
              results.push(result);
              if (result.outcome === "sent") return remove(entry.clientId);
              if (result.outcome === "invalid" || result.outcome === "refused") {
                entry.state = "invalid";
                entry.message = result.message;
                entry.errors = result.errors || {};
                // What was wrong, field by field, for the 待发送 list (the form shows it in place).
                entry.summary = Object.keys(entry.errors)
                  .map(function (name) {
                    var label = (result.labels || {})[name];
                    return (label ? label + "：" : "") + entry.errors[name].join(" ");
                  })
                  .join("；");
                return put(entry);
              }
              if (result.outcome === "login") {
                entry.message = result.message;
                return put(entry);
              }
            });
          });
        }, Promise.resolve())
        .then(function () { return results; });
    });
  }

  // Send every waiting entry (of this user, when given) once; concurrent calls, from this tab,
  // other tabs or the service worker, wait for the one running rather than sending again.
  function flush(user) {
    if (flushing) return flushing;
    var run = function () { return sendWaiting(user); };
    var locks = scope.navigator && scope.navigator.locks;
    flushing = (locks ? locks.request(LOCK, run) : run()).then(
      function (results) { flushing = null; return results; },
      function (error) { flushing = null; throw error; }
    );
    return flushing;
  }

  scope.CobuildOutbox = {
    all: all,
    get: get,
    put: put,
    remove: remove,
    send: send,
    flush: flush,
    SYNC_TAG: "cobuild-outbox",
  };
})(self);
