// Logging activities with a weak or no connection (loaded on every signed-in page).
// - The activity form keeps what is typed in localStorage as it is typed, until the server has it.
// - A new activity submitted offline waits in the outbox (outbox.js, IndexedDB) with its photos,
//   shown as 待发送 on every page, and is sent once when the connection returns: on the `online`
//   event, on the next page load, or by the service worker's background sync.
(function () {
  "use strict";

  var Outbox = window.CobuildOutbox;
  var user = document.body.getAttribute("data-user") || "";
  var main = document.getElementById("main");
  if (!Outbox || !user || !main || !window.indexedDB) return;

  var DRAFT_PREFIX = "cobuild:draft:" + user + ":";
  var PAGES_CACHE = "cobuild-pages";
  var SKIP = { csrfmiddlewaretoken: true, version: true };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }

  function uuid() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return [h.slice(0, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10), h.slice(10)]
      .map(function (part) { return part.join(""); })
      .join("-");
  }

  function when(time) {
    var d = new Date(time);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getMonth() + 1 + "月" + d.getDate() + "日 " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  // ---- The outbox panel, on every page -------------------------------------------------------

  var panel = el("section", { id: "outbox", class: "card outbox", "aria-labelledby": "outbox-title" });
  panel.hidden = true;
  var sentNote = el("p", { class: "message message-success", role: "status" });
  sentNote.hidden = true;
  var messages = main.querySelector(".messages");
  main.insertBefore(panel, messages ? messages.nextSibling : main.firstChild);
  main.insertBefore(sentNote, panel);

  var waitingSeen = {}; // clientId → entry, for the entries waiting at the last look
  var announced = {}; // clientIds this page has said were sent
  var dropped = {}; // clientIds deleted here

  function render() {
    return Outbox.all().then(function (entries) {
      entries = entries.filter(function (e) { return e.user === user; });
      // Gone since the last look, neither announced nor deleted here: another tab or the
      // service worker sent them.
      var present = {};
      entries.forEach(function (e) { present[e.clientId] = true; });
      var elsewhere = Object.keys(waitingSeen)
        .filter(function (id) { return !present[id] && !announced[id] && !dropped[id]; })
        .map(function (id) { return { outcome: "sent", entry: waitingSeen[id] }; });
      waitingSeen = {};
      entries.forEach(function (e) { if (e.state === "waiting") waitingSeen[e.clientId] = e; });
      if (elsewhere.length) {
        announce(elsewhere);
        document.dispatchEvent(new CustomEvent("cobuild:outbox", { detail: elsewhere }));
      }
      panel.textContent = "";
      panel.hidden = entries.length === 0;
      if (!entries.length) return entries;
      panel.appendChild(el("h2", { id: "outbox-title" }, "待发送（" + entries.length + "）"));
      panel.appendChild(
        el("p", { class: "help" }, "这些活动保存在本机，联网后会自动发送一次，不会重复登记。请不要清除浏览器数据。")
      );
      var list = el("ul", { class: "plain-list" });
      entries.forEach(function (entry) {
        var item = el("li", { "data-client-id": entry.clientId });
        item.appendChild(el("strong", {}, entry.title || "（未填活动主题）"));
        item.appendChild(el("span", { class: "muted" }, " " + when(entry.savedAt) + " 填写 "));
        if (entry.state === "invalid") {
          item.appendChild(el("span", { class: "state state-missed" }, "✗ 需修改"));
          item.appendChild(el("span", {}, " " + (entry.summary || entry.message || "")));
          var fix = el("a", { href: entry.formUrl + "#outbox=" + entry.clientId }, "打开修改");
          item.appendChild(document.createTextNode(" "));
          item.appendChild(fix);
          var drop = el("button", { type: "button", class: "link-button" }, "删除");
          drop.addEventListener("click", function () {
            if (window.confirm("删除后这条活动不会再发送，确定删除？")) {
              dropped[entry.clientId] = true;
              Outbox.remove(entry.clientId).then(render);
            }
          });
          item.appendChild(document.createTextNode(" "));
          item.appendChild(drop);
        } else {
          item.appendChild(el("span", { class: "state state-due" }, "○ 待发送"));
          if (entry.message) item.appendChild(el("span", {}, " " + entry.message));
        }
        list.appendChild(item);
      });
      panel.appendChild(list);
      if (navigator.onLine && entries.some(function (e) { return e.state === "waiting"; })) {
        var now = el("button", { type: "button", class: "button" }, "立即发送");
        now.addEventListener("click", flush);
        panel.appendChild(now);
      }
      return entries;
    });
  }

  function announce(results) {
    var sent = results.filter(function (r) { return r.outcome === "sent" && !announced[r.entry.clientId]; });
    if (!sent.length) return;
    sentNote.textContent = "联网后已发送 " + sent.length + " 条活动：";
    sent.forEach(function (r, i) {
      announced[r.entry.clientId] = true;
      if (i) sentNote.appendChild(document.createTextNode("、"));
      var title = r.entry.title || "（未填活动主题）";
      sentNote.appendChild(r.url ? el("a", { href: r.url }, title) : el("span", {}, title));
    });
    sentNote.hidden = false;
  }

  // When a send fails although the phone says it is online (the connection is only coming
  // back, or the server is down), try again a little later, waiting longer each time.
  var retryDelay = 2000;
  var retryTimer = null;

  function retryLater(results) {
    var failed = results.some(function (r) { return r.outcome === "offline"; });
    if (!failed) {
      retryDelay = 2000;
      return;
    }
    if (retryTimer || !navigator.onLine) return;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      flush();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60000);
  }

  function flush() {
    return Outbox.flush(user)
      .then(function (results) {
        retryLater(results);
        announce(results);
        document.dispatchEvent(new CustomEvent("cobuild:outbox", { detail: results }));
        return render();
      })
      .catch(function () { return render(); });
  }

  window.addEventListener("online", flush);
  render().then(function (entries) {
    if (navigator.onLine && entries && entries.length) flush();
  });

  // ---- The service worker: the form page opens offline, and background sync ------------------

  var worker = null;
  if ("serviceWorker" in navigator && window.isSecureContext) {
    worker = navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { return null; });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "outbox-results") {
        announce(event.data.results);
        document.dispatchEvent(new CustomEvent("cobuild:outbox", { detail: event.data.results }));
        render();
      }
    });
  }

  function requestSync() {
    if (!worker) return;
    worker.then(function (registration) {
      if (registration && registration.sync) return registration.sync.register(Outbox.SYNC_TAG);
    }).catch(function () {});
  }

  // Pages kept for offline use are one person's: another account on this phone starts afresh.
  if (localStorage.getItem("cobuild:user") !== user) {
    if (window.caches) window.caches.delete(PAGES_CACHE);
    localStorage.setItem("cobuild:user", user);
  }

  // Signing out forgets the pages kept for offline use (a shared phone shows no one else's).
  document.querySelectorAll('form[action$="/accounts/logout/"]').forEach(function (form) {
    form.addEventListener("submit", function () {
      if (window.caches) window.caches.delete(PAGES_CACHE);
    });
  });

  // An edit that reached the server lands on the activity's page: its draft is done with.
  var detail = window.location.pathname.match(/^\/activities\/(\d+)\/$/);
  if (detail) {
    var key = DRAFT_PREFIX + "edit-" + detail[1];
    var draft = readDraft(key);
    if (draft && draft.submitted) localStorage.removeItem(key);
  }

  // ---- The activity form ----------------------------------------------------------------------

  var form = document.querySelector("form[data-draft]");
  if (!form) return;
  var draftKey = DRAFT_PREFIX + form.getAttribute("data-draft");
  var queueing = form.hasAttribute("data-outbox");
  var maxBytes = Number(form.getAttribute("data-max-bytes")) || 0;
  var maxFiles = Number(form.getAttribute("data-max-files")) || 0;
  var status = el("div", { class: "notice", role: "status", tabindex: "-1" });
  status.hidden = true;
  form.parentNode.insertBefore(status, form);

  function readDraft(key) {
    try {
      return JSON.parse(localStorage.getItem(key) || "null");
    } catch (error) {
      return null;
    }
  }

  // The form's values as [name, value] pairs, like the browser would post them (no files).
  function pairs() {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.disabled || SKIP[field.name]) return;
      if (field.type === "file" || field.type === "submit" || field.type === "button") return;
      if ((field.type === "checkbox" || field.type === "radio") && !field.checked) return;
      if (field.type === "select-multiple") {
        Array.prototype.forEach.call(field.selectedOptions, function (option) {
          out.push([field.name, option.value]);
        });
        return;
      }
      out.push([field.name, field.value]);
    });
    return out;
  }

  function fill(values) {
    var byName = {};
    values.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(String(pair[1])); });
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.disabled || SKIP[field.name]) return;
      if (field.type === "file" || field.type === "submit" || field.type === "button") return;
      var given = byName[field.name] || [];
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = given.indexOf(field.value) !== -1;
      } else if (field.type === "select-multiple") {
        Array.prototype.forEach.call(field.options, function (option) {
          option.selected = given.indexOf(option.value) !== -1;
        });
      } else if (field.name in byName) {
        field.value = given[0];
      }
    });
  }

  function version() {
    return form.elements.version ? form.elements.version.value : "";
  }

  function saveDraft() {
    var values = pairs();
    if (!queueing) values = values.filter(function (pair) { return pair[0] !== "client_id"; });
    try {
      localStorage.setItem(draftKey, JSON.stringify({ savedAt: Date.now(), values: values, version: version() }));
    } catch (error) {
      // Storage full or refused (private browsing): the form still posts as usual.
    }
  }

  function say(text, kind) {
    status.className = kind === "error" ? "form-error" : "notice";
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    status.textContent = text;
    status.hidden = false;
    return status;
  }

  function clearErrors() {
    form.querySelectorAll(".field-error[data-js]").forEach(function (node) { node.remove(); });
    form.querySelectorAll(".field-invalid").forEach(function (node) {
      node.classList.remove("field-invalid");
    });
  }

  function fieldBox(name) {
    var field = form.elements[name];
    if (!field) return null;
    var first = field.length !== undefined && !field.tagName ? field[0] : field;
    return first && (first.closest("fieldset.participants") || first.closest(".field"));
  }

  function showErrors(result) {
    clearErrors();
    // Errors with no field to show them beside (the form's own, a hidden field's) go on top.
    var general = Object.keys(result.errors)
      .filter(function (name) { return name === "__all__" || !fieldBox(name); })
      .map(function (name) { return result.errors[name].join(" "); })
      .join(" ");
    var alert = say((result.message || "请修改下面标出的内容后再保存。") + (general ? " " + general : ""), "error");
    Object.keys(result.errors).forEach(function (name) {
      var box = fieldBox(name);
      if (!box) return;
      box.classList.add("field-invalid");
      result.errors[name].forEach(function (text) {
        box.appendChild(el("p", { class: "field-error", role: "alert", "data-js": "" }, text));
      });
    });
    alert.focus();
  }

  function filesProblem(files) {
    if (maxFiles && files.length > maxFiles) return "佐证材料最多 " + maxFiles + " 个文件。";
    var big = files.filter(function (pair) { return maxBytes && pair[1].size > maxBytes; })[0];
    if (big) {
      var limit = maxBytes >= 1048576 ? Math.round((maxBytes / 1048576) * 10) / 10 + " MB" : Math.round(maxBytes / 1024) + " KB";
      return "文件“" + big[1].name + "”超过 " + limit + "，请换一张较小的照片。";
    }
    return "";
  }

  function entryFrom(submitter) {
    var fields = pairs();
    if (submitter && submitter.name) fields.push([submitter.name, submitter.value]);
    var files = [];
    form.querySelectorAll('input[type="file"]').forEach(function (input) {
      Array.prototype.forEach.call(input.files, function (file) { files.push([input.name, file]); });
    });
    var title = form.elements.title;
    return {
      clientId: form.elements.client_id.value,
      user: user,
      action: form.action,
      formUrl: window.location.pathname + window.location.search,
      title: title ? title.value.trim() : "",
      fields: fields,
      files: files,
      csrf: form.elements.csrfmiddlewaretoken ? form.elements.csrfmiddlewaretoken.value : "",
      savedAt: Date.now(),
      state: "waiting",
    };
  }

  function setBusy(busy) {
    form.querySelectorAll('button[type="submit"]').forEach(function (button) { button.disabled = busy; });
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // The notice about the entry queued from this form follows what becomes of it.
  document.addEventListener("cobuild:outbox", function (event) {
    var queued = status.getAttribute("data-queued");
    event.detail.forEach(function (result) {
      if (!queued || result.entry.clientId !== queued) return;
      status.removeAttribute("data-queued");
      if (result.outcome === "sent") {
        var notice = say("这条活动已发送。", "notice");
        if (result.url) {
          notice.appendChild(document.createTextNode(" "));
          notice.appendChild(el("a", { href: result.url }, "查看"));
        }
      } else if (result.outcome === "invalid" || result.outcome === "refused") {
        say("这条活动没有被接收，需要修改，见上方的待发送列表。", "notice");
      }
    });
  });

  function queue(entry, note) {
    return Outbox.put(entry).then(function () {
      localStorage.removeItem(draftKey);
      requestSync();
      clearErrors();
      say(
        (note || "网络未连接。") + "这条活动已保存在本机，状态：待发送。联网后会自动发送，不会重复登记。",
        "notice"
      );
      var again = el("button", { type: "button", class: "button" }, "再登记一条");
      again.addEventListener("click", function () {
        form.reset();
        form.elements.client_id.value = uuid();
        status.hidden = true;
        if (window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search);
        form.elements[0].focus();
      });
      status.appendChild(document.createTextNode(" "));
      status.appendChild(again);
      status.setAttribute("data-queued", entry.clientId);
      status.focus();
      return render();
    });
  }

  // Restore: an outbox entry opened to be fixed, or what was typed before.
  function outboxHash() {
    var found = window.location.hash.match(/^#outbox=([0-9a-f-]{36})$/);
    return found && queueing ? found[1] : null;
  }

  function openEntry(clientId) {
    return Outbox.get(clientId).then(function (entry) {
      if (!entry || entry.user !== user) return;
      fill(entry.fields);
      form.elements.client_id.value = entry.clientId;
      var input = form.querySelector('input[type="file"]');
      if (input && entry.files.length && window.DataTransfer) {
        var transfer = new DataTransfer();
        entry.files.forEach(function (pair) { transfer.items.add(pair[1]); });
        input.files = transfer.files;
      }
      if (entry.state === "invalid") {
        showErrors({ message: entry.message, errors: entry.errors || {} });
      } else {
        clearErrors();
        say("这是本机待发送的活动，修改后提交即可。", "notice");
      }
    });
  }

  // 打开修改 on this very page only changes the address's #fragment.
  window.addEventListener("hashchange", function () {
    if (outboxHash()) openEntry(outboxHash());
  });

  if (outboxHash()) {
    openEntry(outboxHash());
  } else {
    var saved = readDraft(draftKey);
    var serverErrors = document.querySelector(".form-error");
    // A new entry gets a fresh client_id here, not the page's: the service worker may have served
    // this page from its cache, and two entries sharing an id would be one on the server.
    if (queueing && !serverErrors) form.elements.client_id.value = uuid();
    if (saved && saved.version !== undefined && saved.version !== version()) {
      // Typed over an older version, which someone has changed since: restoring it unasked would
      // undo their change unseen. The page shows the current version; the draft stays on offer.
      say("这条活动在您上次填写后已被他人修改，下面是最新内容，您上次未提交的内容没有自动恢复。", "notice");
      var anyway = el("button", { type: "button", class: "link-button" }, "仍然恢复我上次填写的内容");
      anyway.addEventListener("click", function () {
        fill(saved.values);
        saveDraft();
        say("已恢复您 " + when(saved.savedAt) + " 填写但未提交的内容，保存时会覆盖他人的修改。", "notice");
      });
      status.appendChild(document.createTextNode(" "));
      status.appendChild(anyway);
    } else if (saved && saved.values && !serverErrors) {
      fill(saved.values);
      saveDraft(); // as typed, not yet sent: no longer marked as submitted
      say("已恢复您 " + when(saved.savedAt) + " 填写但未提交的内容。", "notice");
      var restart = el("button", { type: "button", class: "link-button" }, "清空重填");
      restart.addEventListener("click", function () {
        localStorage.removeItem(draftKey);
        window.location.reload();
      });
      status.appendChild(document.createTextNode(" "));
      status.appendChild(restart);
    }
  }

  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);

  if (!queueing) {
    // Edits post as usual; the draft stays until the activity's page shows the edit arrived.
    form.addEventListener("submit", function () {
      var draft = readDraft(draftKey) || { values: pairs() };
      draft.submitted = true;
      localStorage.setItem(draftKey, JSON.stringify(draft));
    });
    return;
  }

  var sending = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    var entry = entryFrom(event.submitter);
    var problem = filesProblem(entry.files);
    if (problem) {
      showErrors({ message: "请修改下面标出的内容后再保存。", errors: { evidence: [problem] } });
      return;
    }
    if (!navigator.onLine) {
      queue(entry);
      return;
    }
    sending = true;
    setBusy(true);
    say("正在提交……", "notice");
    Outbox.send(entry)
      .then(function (result) {
        if (result.outcome === "sent") {
          localStorage.removeItem(draftKey);
          return Outbox.remove(entry.clientId).then(function () {
            window.location.assign(result.url);
          });
        }
        if (result.outcome === "invalid" || result.outcome === "refused") {
          showErrors({ message: result.message, errors: result.errors || {} });
          return;
        }
        return queue(entry, result.outcome === "login" ? result.message : "网络连接中断。");
      })
      .catch(function () { return queue(entry); })
      .then(function () {
        sending = false;
        setBusy(false);
      });
  });
})();
