// The expert's scoring page: a signing key kept in this browser, the scores signed with it before they are sent.
// The server checks the scores and answers the statement to sign; the expert's signature goes with the scores,
// so no one at the platform could have written them (bidding.evaluation.services.expert_keys).
import { generateBidderKeys, importKeyFile, loadKeys, saveKeys, signBytes, utf8 } from "/static/sealer/sealer.js";
import { offerKeyBackup, postJSON } from "/static/common/page.js";

const root = document.getElementById("expert-key");
const form = document.querySelector("[data-testid=score-form]");
const text = JSON.parse(document.getElementById("scoring-text").textContent);
const keyName = `sunlight:expert:${root.dataset.code}`;
const $ = (id) => document.getElementById(id);
const status = (message) => { $("key-status").textContent = message; };
const say = (message) => { $("score-error").textContent = message; };

async function register(keys) {
  await postJSON("/api/v1/expert/signing-key/", { signing_public_key: keys.signingPublicKey });
  await saveKeys(keyName, keys);
  root.dataset.publicKey = keys.signingPublicKey;
}

async function newKey() {
  const keys = await generateBidderKeys(); // its signing pair; the encryption pair goes unused
  await register(keys);
  status(text.made);
  offerKeyBackup($("key-backup"), keys,
    { filename: `${root.dataset.code}-signing-key.json`, ask: text.passphrase, tooShort: text.passphraseShort, say });
  return keys;
}

let keys = null;

async function start() {
  const stored = await loadKeys(keyName);
  if (stored && stored.signingPublicKey === root.dataset.publicKey) {
    keys = stored;
    return status(text.kept);
  }
  if (!root.dataset.publicKey) {
    keys = await newKey();
    return;
  }
  status(text.missing); // registered elsewhere: restore the backup here, or make a new key (the old one no longer signs)
  $("key-restore").hidden = false;
  $("key-restore-button").onclick = async () => {
    try {
      const restored = await importKeyFile($("key-file").files[0], $("key-passphrase").value);
      if (restored.signingPublicKey !== root.dataset.publicKey) return say(text.otherKey);
      await saveKeys(keyName, restored);
      keys = restored;
      $("key-restore").hidden = true;
      status(text.kept);
    } catch (error) {
      say(error.message);
    }
  };
  $("key-new").onclick = async () => {
    if (!confirm(text.replace)) return;
    keys = await newKey();
    $("key-restore").hidden = true;
  };
}

// The same fields the page posts without this script: scores per bid, or a rejection with its ground and reason.
function scoresOf(data) {
  const scores = {}, rejections = {};
  const bids = new Set([...data.keys()].filter((k) => k.startsWith("reject-")).map((k) => k.slice(7)));
  for (const bid of bids) {
    if (data.get(`reject-${bid}`)) {
      rejections[bid] = { code: data.get(`reject-${bid}`), reason: data.get(`reason-${bid}`) || "" };
      continue;
    }
    scores[bid] = {};
    for (const [name, value] of data) {
      if (name.startsWith(`score-${bid}-`)) scores[bid][name.slice(`score-${bid}-`.length)] = value;
    }
  }
  return { scores, rejections, dissent: data.get("dissent") || "" };
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  if (!keys) return say(text.noKey);
  const button = form.querySelector("[data-testid=submit-scores]");
  button.disabled = true;
  try {
    const body = scoresOf(new FormData(form));
    const url = `/api/v1/sections/${root.dataset.section}/scores/`;
    const { statement, label } = await postJSON(url + "statement/", body);
    const expert_signature = await signBytes(keys, utf8(label + statement));
    await postJSON(url, { ...body, expert_signature });
    location.reload();
  } catch (error) {
    say(error.message);
    button.disabled = false;
  }
});

if (form) start().catch((error) => say(error.message));
