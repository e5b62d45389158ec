// The bidder's page: keys kept in this browser, sealing here, a resumable upload.
import { generateBidderKeys, importKeyFile, saveKeys, loadKeys, sealEnvelope } from "/static/sealer/sealer.js";
import { api, offerKeyBackup, postJSON } from "/static/common/page.js";

const root = document.getElementById("bid");
const text = JSON.parse(document.getElementById("bid-page-text").textContent);
const section = root.dataset.section;
const code = root.dataset.code;
const keyName = `sunlight:${section}:${code}`;
// Bytes per PUT. Each request costs the server its checks (some milliseconds), so a fast link sends more at
// once, about a second's worth; a slow one keeps the progress bar moving. A cut loses nothing already sent:
// the server keeps what arrived and the upload resumes from there. bench/upload.py sends the same way.
const CHUNK_MIN = 8 << 20, CHUNK_MAX = 64 << 20, CHUNK_SECONDS = 1;
const nextChunk = (sent, seconds) =>
  Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, Math.round((sent / Math.max(seconds, 0.001)) * CHUNK_SECONDS)));
const $ = (id) => document.getElementById(id);
const say = (text) => { $("error").textContent = text; };

async function ensureKeys() {
  let keys = await loadKeys(keyName);
  if (keys && keys.signingPublicKey === root.dataset.signingKey) {
    $("key-status").textContent = text.kept;
    return keys;
  }
  if (root.dataset.signingKey && !keys) {
    $("key-status").textContent = text.missing;
    return restoreKeys();
  }
  keys = await generateBidderKeys();
  await postJSON(`/api/v1/sections/${section}/keys/`,
    { signing_public_key: keys.signingPublicKey, encryption_public_key: keys.encryptionPublicKey });
  await saveKeys(keyName, keys);
  root.dataset.signingKey = keys.signingPublicKey;
  $("key-status").textContent = text.made;
  offerKeyBackup($("backup"), keys, { filename: `${code}-keys.json`, ask: text.passphrase, tooShort: text.passphraseShort, say });
  return keys;
}

// Registered from another browser (or this one's storage was cleared): the backup file brings the keys here.
function restoreKeys() {
  $("key-restore").hidden = false;
  return new Promise((resolve) => {
    $("key-restore-button").onclick = async () => {
      say("");
      const file = $("key-file").files[0];
      if (!file) return say(text.chooseKeyFile);
      let restored;
      try {
        restored = await importKeyFile(file, $("key-passphrase").value);
      } catch {
        return say(text.badKeyFile);
      }
      if (restored.signingPublicKey !== root.dataset.signingKey) return say(text.otherKey);
      await saveKeys(keyName, restored);
      $("key-restore").hidden = true;
      $("key-passphrase").value = "";
      $("key-status").textContent = text.kept;
      resolve(restored);
    };
  });
}

// The server answers times in Asia/Shanghai (+08:00): shown as the page shows them, to the second.
const shown = (iso) => String(iso).replace("T", " ").slice(0, 19);

function progress(done, total, label) {
  $("progress").value = total ? Math.round((done / total) * 100) : 0;
  $("progress-text").textContent = `${label} ${Math.round((done / Math.max(total, 1)) * 100)}%`;
}

async function upload(blob) {
  const created = await api(`/api/v1/sections/${section}/uploads/`, { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify({ size: blob.size }) });
  let offset = 0, failures = 0, chunk = CHUNK_MIN;
  while (offset < blob.size) {
    try {
      const started = performance.now();
      const state = await api(`/api/v1/uploads/${created.id}/`, { method: "PUT",
        headers: { "Content-Type": "application/octet-stream", "Upload-Offset": String(offset) },
        body: blob.slice(offset, offset + chunk) });
      chunk = nextChunk(state.received - offset, (performance.now() - started) / 1000);
      offset = state.received;
      failures = 0;
    } catch (error) {
      // A broken connection resumes from what the server has, it does not restart.
      if (++failures > 5) throw error;
      await new Promise((r) => setTimeout(r, 500 * failures));
      chunk = CHUNK_MIN;
      offset = (await api(`/api/v1/uploads/${created.id}/`)).received;
    }
    progress(offset, blob.size, text.uploading);
  }
  return api(`/api/v1/uploads/${created.id}/finalize/`, { method: "POST" });
}

// The page as a reload would show it with this bid (active from now, until the deadline): receipt and withdrawal.
function showBid(bid) {
  $("receipt").innerHTML = "";
  const p = document.createElement("p");
  const status = document.createElement("strong");
  status.textContent = text.active;
  p.append(`${text.received} · ${text.status}: `, status, ` · SHA-256 ${bid.digest} · ${shown(bid.submitted_at)}`);
  p.dataset.testid = "receipt-ok";
  $("receipt").append(p);
  const link = $("receipt-download");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(bid.receipt, null, 1)], { type: "application/json" }));
  link.hidden = false;
  if ($("withdraw")) $("withdraw").hidden = false;
}

const keysReady = ensureKeys().catch((e) => say(e.message));

$("bid-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  try {
    if (!$("key-restore").hidden) return say(text.missing);
    const keys = await keysReady;
    if (!keys) return say(text.missing);
    const [yuan, cents = ""] = $("price").value.trim().split(".");
    const priceFen = Number(yuan) * 100 + Number((cents + "00").slice(0, 2));
    if (!Number.isSafeInteger(priceFen) || priceFen <= 0) return say(text.badPrice);
    const blob = await sealEnvelope({
      section, bidderCode: code, openingPublicKey: root.dataset.openingKey,
      bidderPublicKey: keys.encryptionPublicKey, signingKey: keys.signing.privateKey,
      signingPublicKey: keys.signingPublicKey,
      form: { price_fen: priceFen, currency: "CNY", duration_days: Number($("duration").value), fields: {} },
      files: { commercial: $("commercial").files[0], technical: $("technical").files[0] },
      onProgress: (done, total) => progress(done, total, text.sealing),
    });
    showBid(await upload(blob));
  } catch (error) {
    say(error.message);
  }
});

$("withdraw")?.addEventListener("click", async () => {
  if (!confirm(text.withdraw)) return;
  try {
    await api(`/api/v1/sections/${section}/bid/withdraw/`, { method: "POST" });
    location.reload();
  } catch (error) {
    say(error.message);
  }
});
