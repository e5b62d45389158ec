// 在线解密: the bidder unwraps its own bid's data keys in this browser, with the keys the bid page
// kept (IndexedDB) or a key backup file and its passphrase, and sends only those data keys.
import { importKeyFile, loadKeys, unwrapDataKeys } from "/static/sealer/sealer.js";

// Listened for on the document: the form appears when the decryption begins, drawn in by opening.js.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("[data-testid=unlock-form]");
  if (!form) return;
  event.preventDefault();
  const say = (text) => { form.querySelector("[data-testid=unlock-status]").textContent = text; };
  const csrf = () => form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const { section, code, mybid, unlock } = form.dataset;
  try {
    say(form.dataset.working);
    const file = form.querySelector("[data-testid=unlock-file]").files[0];
    const keys = file
      ? await importKeyFile(file, form.querySelector("[data-testid=unlock-passphrase]").value)
      : await loadKeys(`sunlight:${section}:${code}`);
    if (!keys) throw new Error(form.dataset.nokeys);
    const { manifest } = await (await fetch(mybid, { credentials: "same-origin" })).json();
    const dataKeys = await unwrapDataKeys(manifest, keys.encryption);
    const answer = await fetch(unlock, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ keys: dataKeys }),
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(`${body.message} (${body.code})`);
    say(form.dataset.done);
  } catch (error) {
    say(`${form.dataset.failed}：${error.message || error}`);
  }
});
