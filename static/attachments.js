// Progressive enhancement of the tip form's file field: with JavaScript, each chosen file is
// uploaded on its own at once, with a progress bar, and joins the list of attached files.
// Without JavaScript the files go with the form when it is posted, and the server does the
// same checks either way (type by content, metadata removed, limits).
(function () {
  "use strict";
  var input = document.getElementById("files");
  var form = document.getElementById("tip-form");
  var draft = document.getElementById("draft");
  var progressBox = document.getElementById("file-progress");
  var listBox = document.getElementById("file-list-box");
  var list = document.getElementById("file-list");
  if (!input || !form || !draft || !progressBox || !list || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var url = input.getAttribute("data-upload-url");
  var csrf = form.querySelector("input[name=csrf_token]");
  var queue = [];
  var busy = false;

  function text(template, name) {
    return (template || "").replace("{name}", name);
  }

  function showError(message) {
    var error = document.createElement("p");
    error.className = "error-message";
    error.setAttribute("role", "alert");
    error.textContent = message;
    progressBox.appendChild(error);
  }

  function showFiles(files) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    files.forEach(function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " – " + file.kind + ", " + file.size;
      list.appendChild(item);
    });
    if (listBox) { listBox.hidden = files.length === 0; }
  }

  function uploadNext() {
    var file = queue.shift();
    if (!file) { busy = false; input.disabled = false; return; }
    busy = true;
    var row = document.createElement("div");
    var label = document.createElement("label");
    var bar = document.createElement("progress");
    var id = "upload-" + Math.random().toString(36).slice(2);
    bar.id = id;
    bar.max = 100;
    bar.value = 0;
    label.setAttribute("for", id);
    label.textContent = text(input.getAttribute("data-uploading"), file.name);
    row.appendChild(label);
    row.appendChild(bar);
    progressBox.appendChild(row);

    var data = new FormData();
    data.append("csrf_token", csrf ? csrf.value : "");
    data.append("draft", draft.value);
    data.append("files", file, file.name);
    var request = new XMLHttpRequest();
    request.open("POST", url);
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
    });
    request.addEventListener("load", function () {
      progressBox.removeChild(row);
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
      if (!answer) {
        showError(text(input.getAttribute("data-failed"), file.name));
      } else {
        if (answer.draft) { draft.value = answer.draft; }
        if (answer.files) { showFiles(answer.files); }
        (answer.errors || []).forEach(showError);
        if (request.status === 200) {
          var done = document.createElement("p");
          done.className = "hint";
          done.textContent = text(input.getAttribute("data-uploaded"), file.name);
          progressBox.appendChild(done);
        }
      }
      uploadNext();
    });
    request.addEventListener("error", function () {
      progressBox.removeChild(row);
      showError(text(input.getAttribute("data-failed"), file.name));
      uploadNext();
    });
    request.send(data);
  }

  input.addEventListener("change", function () {
    while (progressBox.firstChild) { progressBox.removeChild(progressBox.firstChild); }
    Array.prototype.forEach.call(input.files, function (file) { queue.push(file); });
    // The files are on their way on their own: the form must not send them again.
    input.value = "";
    if (!busy) { input.disabled = true; uploadNext(); }
  });

  // Do not leave the page half-way through an upload.
  form.addEventListener("submit", function (event) {
    if (busy) { event.preventDefault(); }
  });
})();
