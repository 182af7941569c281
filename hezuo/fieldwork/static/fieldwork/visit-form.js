/* The visit form on a phone (hezuo fieldwork).
 *
 * 1. Draft: the typed fields are kept in this browser (localStorage) while typing and filled in again on the
 *    next visit to the form; dropped once the server has the visit.
 * 2. Offline: a visit saved without network is queued in this browser (IndexedDB, photos included) and sent
 *    by itself when the network returns, on this page or on the counselor's home; the page says so. The form
 *    carries the token it was opened with (client_token), so a visit sent twice is saved once. A visit the
 *    server refuses is sent no more: its form, opened again, holds it for the counselor to correct.
 * 3. Location: "Record my position" fills the optional latitude, longitude and accuracy from the phone.
 *
 * Texts come from data-* attributes of #visit-form or #visit-queue (translated by the server).
 */
(function () {
  "use strict";
  var DB = "hezuo-fieldwork", STORE = "queued-visits";

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }
  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  function queue(key, item) { return withStore("readwrite", function (s) { return s.put(item, key); }); }
  function unqueue(key) { return withStore("readwrite", function (s) { return s.delete(key); }); }
  function allQueued() {
    return withStore("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return withStore("readonly", function (s) { return s.getAllKeys(); }).then(function (keys) {
        return (keys || []).map(function (k, i) { return [k, items[i]]; });
      });
    });
  }

  function show(box, text, kind) {
    if (!box) { return; }
    box.textContent = text;
    box.className = "alert py-2 alert-" + (kind || "info");
    box.hidden = false;
    if (box.scrollIntoView) { box.scrollIntoView({block: "center"}); }  // the counselor is at the button
  }

  /* sends every queued visit; a visit the server refuses (its form has errors) stays queued and is
     marked, so that the counselor opens its form again */
  var sending = false;
  function sendQueued(box, texts, onSent) {
    if (sending || !navigator.onLine) { return Promise.resolve(); }
    sending = true;
    return allQueued().then(function (entries) {
      return entries.reduce(function (chain, entry) {
        return chain.then(function () {
          var key = entry[0], item = entry[1], body = new FormData();
          if (item.refused) {  // sent no more: its form holds it for correction
            show(box, texts.refused + (item.name ? " (" + item.name + ")" : ""), "warning");
            return;
          }
          item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
          item.files.forEach(function (file) { body.append(item.fileField, file, file.name || "photo.jpg"); });
          return fetch(item.url, { method: "POST", body: body, credentials: "same-origin", redirect: "follow" })
            .then(function (response) {
              if (response.ok && response.redirected && response.url.indexOf(item.url) === -1) {
                try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
                return unqueue(key).then(function () {
                  show(box, texts.sent, "success");
                  if (onSent) { onSent(key, response.url); }
                });
              }
              item.refused = true;
              return queue(key, item).then(function () {
                show(box, texts.refused + (item.name ? " (" + item.name + ")" : ""), "warning");
              });
            });
        });
      }, Promise.resolve());
    }).catch(function () { /* no network after all, or no IndexedDB: stays queued */ })
      .then(function () { sending = false; });
  }

  function setUpForm(form) {
    var key = form.dataset.draftKey, note = document.getElementById("draft-note");
    var box = document.getElementById("visit-queue-note");
    var texts = { queued: form.dataset.textQueued, sent: form.dataset.textSent, refused: form.dataset.textRefused,
                  located: form.dataset.textLocated, noLocation: form.dataset.textNoLocation };
    var hasErrors = !!form.querySelector(".invalid-feedback, .alert-danger");
    var fields = Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.type !== "file" && el.name !== "csrfmiddlewaretoken";
    });
    try {
      var saved = JSON.parse(localStorage.getItem(key) || "null");
      if (saved && !hasErrors) {
        fields.forEach(function (el) { if (saved[el.name] !== undefined) { el.value = saved[el.name]; } });
        if (note) { note.hidden = false; }
      }
    } catch (e) { /* a broken draft is ignored */ }
    function keep() {
      var data = {}; fields.forEach(function (el) { data[el.name] = el.value; });
      try { localStorage.setItem(key, JSON.stringify(data)); } catch (e) { /* storage full */ }
    }
    form.addEventListener("input", keep);

    form.addEventListener("submit", function (event) {
      if (navigator.onLine) { return; }
      event.preventDefault();
      keep();
      var fileInput = form.querySelector("input[type=file]");
      var item = {
        url: form.action || window.location.href,
        fields: Array.from(new FormData(form).entries()).filter(function (pair) {
          return !(pair[1] instanceof File);
        }),
        files: fileInput ? Array.prototype.slice.call(fileInput.files) : [],
        fileField: fileInput ? fileInput.name : "photos",
        name: form.dataset.cooperative || "",
        queuedAt: new Date().toISOString()
      };
      if (submit) { submit.disabled = true; }  // kept: sent by itself, not by tapping again
      queue(key, item).then(function () { show(box, texts.queued, "info"); },
                            function () { show(box, texts.queued, "info"); });
    });
    var submit = form.querySelector("[type=submit]");
    // this form's visit, sent from the queue: the form is done with; go to the saved visit
    function sent(sentKey, url) {
      if (sentKey !== key) { return; }
      form.reset();
      if (note) { note.hidden = true; }
      window.location.assign(url);
    }
    // this form's visit, refused by the server earlier: it is here to be corrected (the draft above), and
    // leaves the queue (sent again with the corrections, online, the page shows what is wrong)
    allQueued().then(function (entries) {
      entries.forEach(function (entry) {
        if (entry[0] === key && entry[1].refused) {
          unqueue(key);
          show(box, texts.refused, "warning");
        }
      });
    }).catch(function () { /* no IndexedDB */ }).then(function () {
      window.addEventListener("online", function () { sendQueued(box, texts, sent); });
      sendQueued(box, texts, sent);
    });

    var locate = document.getElementById("locate-me");
    if (locate) {
      if (!navigator.geolocation) { locate.hidden = true; }
      locate.addEventListener("click", function () {
        var status = document.getElementById("location-status");
        navigator.geolocation.getCurrentPosition(function (position) {
          var c = position.coords;
          form.elements.latitude.value = c.latitude.toFixed(6);
          form.elements.longitude.value = c.longitude.toFixed(6);
          form.elements.location_accuracy.value = Math.round(c.accuracy || 0);
          status.textContent = texts.located.replace("{lat}", c.latitude.toFixed(5))
            .replace("{lon}", c.longitude.toFixed(5)).replace("{acc}", Math.round(c.accuracy || 0));
          keep();
        }, function () { status.textContent = texts.noLocation; }, { enableHighAccuracy: true, timeout: 15000 });
      });
    }
  }

  var form = document.getElementById("visit-form");
  if (form) { setUpForm(form); return; }
  var home = document.getElementById("visit-queue");  // the counselor's home: send what is queued
  if (home) {
    var texts = { sent: home.dataset.textSent, refused: home.dataset.textRefused };
    var box = document.getElementById("visit-queue-note");
    window.addEventListener("online", function () { sendQueued(box, texts); });
    sendQueued(box, texts);
  }
})();
