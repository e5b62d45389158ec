// Sunlight browser sealer: makes and opens sealed-bid envelopes (format
// version 1, cipher suite 1) exactly as docs/envelope.md describes.
//
// Plain ES module, no bundler. The page must carry the import map that
// static/vendor/hpke/VENDOR.md gives (for "@hpke/core" and "@hpke/common").
// The incremental SHA-256 is @noble/hashes, imported by relative URL.
//
// Nothing here sends anything anywhere: every function works on the
// bidder's machine and returns Blobs / CryptoKeys to the page.

import {
  Aes256Gcm,
  CipherSuite,
  DhkemP256HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { sha256 } from "../vendor/noble-hashes/sha2.js";

// ---------------------------------------------------------------------------
// Constants of the format (docs/envelope.md)
// ---------------------------------------------------------------------------

export const MAGIC = new Uint8Array([0x53, 0x4c, 0x45, 0x4e, 0x56, 0x00, 0x01, 0x00]); // b"SLENV\x00\x01\x00"
export const FORMAT = "sunlight-envelope";
export const VERSION = 1;
export const SUITE = 1;
export const LABEL = "sunlight-envelope/v1";
export const MAX_HEADER_LENGTH = 65536;
export const MIN_CHUNK_SIZE = 65536;
export const MAX_CHUNK_SIZE = 16777216;
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const TAG_SIZE = 16;
export const PART_NAMES = ["form", "commercial", "technical"];
// Meta of the `form` part: the doc gives no file name for it (see the report).
export const FORM_META = { filename: "form.json", content_type: "application/json" };

// Key backup file (this module's own format, not part of the envelope).
export const KEYFILE_FORMAT = "sunlight-bidder-keys";
export const KEYFILE_VERSION = 1;
export const KEYFILE_PBKDF2_ITERATIONS = 600000;

const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const ECDH = { name: "ECDH", namedCurve: "P-256" };
const SIGN_ALG = { name: "ECDSA", hash: "SHA-256" };

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

const hpkeSuite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

// ---------------------------------------------------------------------------
// Small encoders
// ---------------------------------------------------------------------------

export function utf8(s) {
  return enc.encode(s);
}

function toBytes(x) {
  if (x instanceof Uint8Array) return x;
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  throw new TypeError("expected bytes");
}

export function b64urlEncode(bytes) {
  const b = toBytes(bytes);
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(s) {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    throw new Error("invalid base64url (no padding expected)");
  }
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  return Array.from(toBytes(bytes), (x) => x.toString(16).padStart(2, "0")).join("");
}

function concatBytes(...arrays) {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function u32be(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

async function sha256Hex(bytes) {
  return hex(new Uint8Array(await subtle.digest("SHA-256", toBytes(bytes))));
}

// ---------------------------------------------------------------------------
// Canonical JSON: the bytes of Python's
//   json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
// restricted to what the format allows (no floats, no lone surrogates).
//
// * Keys are sorted by Unicode code point, as Python sorts str. JavaScript's
//   default Array.prototype.sort compares UTF-16 code units, which differs
//   from code-point order only when a key holds a character above U+FFFF and
//   another holds one in U+E000..U+FFFF at the same position; we compare code
//   points explicitly so the two agree in every case.
// * Strings: JSON.stringify escapes exactly what Python escapes with
//   ensure_ascii=False (", \, \b \f \n \r \t, other C0 controls as \u00xx in
//   lowercase hex) and leaves everything else, including U+007F and
//   U+2028/2029, as is. Lone surrogates are rejected (Python's .encode()
//   would fail on them).
// * Numbers: integers only (safe integers or BigInt); floats, NaN and
//   Infinity are rejected.
// ---------------------------------------------------------------------------

function compareCodePoints(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function canonicalString(s) {
  if (LONE_SURROGATE.test(s)) throw new TypeError("canonical JSON: lone surrogate in string");
  return JSON.stringify(s);
}

export function canonicalJSON(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return canonicalString(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`canonical JSON: only integers are allowed, got ${value}`);
    }
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError("canonical JSON: only plain objects are allowed");
    }
    const keys = Object.keys(value).sort(compareCodePoints);
    const items = keys.map((k) => {
      const v = value[k];
      if (v === undefined) throw new TypeError(`canonical JSON: undefined value for key ${k}`);
      return canonicalString(k) + ":" + canonicalJSON(v);
    });
    return "{" + items.join(",") + "}";
  }
  throw new TypeError(`canonical JSON: unsupported type ${typeof value}`);
}

export function canonicalBytes(value) {
  return utf8(canonicalJSON(value));
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/** SHA-256 (hex) of an uncompressed SEC1 public key point. */
export async function fingerprint(publicKey) {
  return sha256Hex(await publicKeyBytes(publicKey));
}

/** Uncompressed SEC1 point (65 bytes) from a CryptoKey, base64url string, bytes or public JWK. */
export async function publicKeyBytes(key) {
  let raw;
  if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey) {
    if (key.type !== "public") throw new TypeError("expected a public key");
    raw = new Uint8Array(await subtle.exportKey("raw", key));
  } else if (typeof key === "string") {
    raw = b64urlDecode(key);
  } else if (key && typeof key === "object" && key.kty === "EC") {
    raw = concatBytes(new Uint8Array([4]), b64urlDecode(key.x), b64urlDecode(key.y));
  } else {
    raw = toBytes(key);
  }
  if (raw.length !== 65 || raw[0] !== 4) {
    throw new Error("expected an uncompressed P-256 point (65 bytes, 0x04 || X || Y)");
  }
  return raw;
}

async function importPublic(key, alg) {
  if (typeof CryptoKey !== "undefined" && key instanceof CryptoKey) {
    if (key.algorithm.name === alg.name) return key;
  }
  const raw = await publicKeyBytes(key);
  return subtle.importKey("raw", raw, alg, true, alg.name === "ECDSA" ? ["verify"] : []);
}

/** Import a public key (base64url SEC1 / bytes / JWK) as an ECDH P-256 CryptoKey. */
export function importEncryptionPublicKey(key) {
  return importPublic(key, ECDH);
}

/** Import a public key (base64url SEC1 / bytes / JWK) as an ECDSA P-256 CryptoKey. */
export function importSigningPublicKey(key) {
  return importPublic(key, ECDSA);
}

/** Import a private JWK (or PKCS#8 bytes) as a non-extractable ECDSA P-256 signing key. */
export function importSigningPrivateKey(key, { extractable = false } = {}) {
  if (key && typeof key === "object" && key.kty === "EC") {
    const jwk = { kty: "EC", crv: key.crv, x: key.x, y: key.y, d: key.d };
    return subtle.importKey("jwk", jwk, ECDSA, extractable, ["sign"]);
  }
  return subtle.importKey("pkcs8", toBytes(key), ECDSA, extractable, ["sign"]);
}

/** Import a private JWK (or PKCS#8 bytes) as a non-extractable ECDH P-256 key. */
export function importEncryptionPrivateKey(key, { extractable = false } = {}) {
  if (key && typeof key === "object" && key.kty === "EC") {
    const jwk = { kty: "EC", crv: key.crv, x: key.x, y: key.y, d: key.d };
    return subtle.importKey("jwk", jwk, ECDH, extractable, ["deriveBits"]);
  }
  return subtle.importKey("pkcs8", toBytes(key), ECDH, extractable, ["deriveBits"]);
}

// Private key material of freshly generated keys, kept only so that
// exportKeyFile() can write the backup right after generateBidderKeys().
// Held in a WeakMap (not on the returned object) and dropped by
// forgetKeyMaterial() or when the keys object is garbage collected.
const pendingBackup = new WeakMap();

async function describeKeys(signing, encryption) {
  const sigRaw = new Uint8Array(await subtle.exportKey("raw", signing.publicKey));
  const encRaw = new Uint8Array(await subtle.exportKey("raw", encryption.publicKey));
  return {
    signing, // {privateKey (non-extractable ECDSA), publicKey}
    encryption, // {privateKey (non-extractable ECDH), publicKey}
    signingPublicKey: b64urlEncode(sigRaw),
    encryptionPublicKey: b64urlEncode(encRaw),
    signingKeyFingerprint: await sha256Hex(sigRaw),
    encryptionKeyFingerprint: await sha256Hex(encRaw),
  };
}

/**
 * Make the bidder's two key pairs: ECDSA P-256 (signing) and ECDH P-256
 * (encryption). The private keys returned are non-extractable CryptoKeys.
 *
 * The pairs are generated extractable, their PKCS#8 is exported once and
 * remembered (outside the returned object) so that exportKeyFile() can write
 * the passphrase-protected backup; the private keys used from then on are
 * re-imported non-extractable. Call forgetKeyMaterial(keys) after the backup.
 *
 * Returns {signing: {privateKey, publicKey}, encryption: {privateKey, publicKey},
 *          signingPublicKey, encryptionPublicKey (base64url SEC1 uncompressed),
 *          signingKeyFingerprint, encryptionKeyFingerprint (hex SHA-256)}.
 */
export async function generateBidderKeys() {
  const sigPair = await subtle.generateKey(ECDSA, true, ["sign", "verify"]);
  const encPair = await subtle.generateKey(ECDH, true, ["deriveBits"]);
  const sigPkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", sigPair.privateKey));
  const encPkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", encPair.privateKey));
  const signing = {
    privateKey: await importSigningPrivateKey(sigPkcs8),
    publicKey: sigPair.publicKey,
  };
  const encryption = {
    privateKey: await importEncryptionPrivateKey(encPkcs8),
    publicKey: encPair.publicKey,
  };
  const keys = await describeKeys(signing, encryption);
  pendingBackup.set(keys, { signing: sigPkcs8, encryption: encPkcs8 });
  return keys;
}

/** Drop the private key material remembered for exportKeyFile(). */
export function forgetKeyMaterial(keys) {
  const m = pendingBackup.get(keys);
  if (m) {
    m.signing.fill(0);
    m.encryption.fill(0);
    pendingBackup.delete(keys);
  }
}

/** True while exportKeyFile(keys, ...) can still write a backup of these keys. */
export function canExportKeyFile(keys) {
  return pendingBackup.has(keys);
}

async function backupKek(passphrase, salt, iterations) {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new Error("a passphrase is required");
  }
  const base = await subtle.importKey("raw", utf8(passphrase.normalize("NFC")), "PBKDF2", false, [
    "deriveKey",
  ]);
  return subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Passphrase-protected key backup (JSON, returned as a Blob).
 *
 * Format (this module's, version 1):
 *   {"format": "sunlight-bidder-keys", "version": 1,
 *    "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": b64url(16 bytes)},
 *    "cipher": {"name": "AES-256-GCM", "iv": b64url(12 bytes)},
 *    "signing_public_key", "encryption_public_key": b64url SEC1 uncompressed,
 *    "signing_key", "bidder_key": hex SHA-256 fingerprints,
 *    "ciphertext": b64url(AES-GCM(kek, iv, canonical JSON {"signing": b64url PKCS#8,
 *                                                        "encryption": b64url PKCS#8},
 *                                  aad = canonical JSON of every other field))}
 * The passphrase is NFC-normalised and UTF-8 encoded before PBKDF2.
 *
 * Only possible right after generateBidderKeys() (non-extractable keys
 * cannot be exported later).
 */
export async function exportKeyFile(keys, passphrase, { iterations = KEYFILE_PBKDF2_ITERATIONS } = {}) {
  const material = pendingBackup.get(keys);
  if (!material) {
    throw new Error(
      "these keys can no longer be exported: a backup can only be written right after generateBidderKeys()",
    );
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const head = {
    format: KEYFILE_FORMAT,
    version: KEYFILE_VERSION,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: b64urlEncode(salt) },
    cipher: { name: "AES-256-GCM", iv: b64urlEncode(iv) },
    signing_public_key: keys.signingPublicKey,
    encryption_public_key: keys.encryptionPublicKey,
    signing_key: keys.signingKeyFingerprint,
    bidder_key: keys.encryptionKeyFingerprint,
  };
  const kek = await backupKek(passphrase, salt, iterations);
  const secret = canonicalBytes({
    signing: b64urlEncode(material.signing),
    encryption: b64urlEncode(material.encryption),
  });
  const ct = new Uint8Array(
    await subtle.encrypt({ name: "AES-GCM", iv, additionalData: canonicalBytes(head) }, kek, secret),
  );
  secret.fill(0);
  const file = { ...head, ciphertext: b64urlEncode(ct) };
  return new Blob([canonicalJSON(file)], { type: "application/json" });
}

/**
 * Read a backup written by exportKeyFile(): file is a File/Blob, a JSON
 * string or the parsed object. Returns the same shape as
 * generateBidderKeys(), with non-extractable private keys.
 */
export async function importKeyFile(file, passphrase) {
  let obj = file;
  if (typeof Blob !== "undefined" && file instanceof Blob) obj = await file.text();
  if (typeof obj === "string") obj = JSON.parse(obj);
  if (!obj || obj.format !== KEYFILE_FORMAT || obj.version !== KEYFILE_VERSION) {
    throw new Error("not a Sunlight bidder key file");
  }
  const { ciphertext, ...head } = obj;
  if (head.kdf?.name !== "PBKDF2" || head.kdf?.hash !== "SHA-256" || head.cipher?.name !== "AES-256-GCM") {
    throw new Error("unsupported key file protection");
  }
  const iterations = head.kdf.iterations;
  if (!Number.isSafeInteger(iterations) || iterations < 100000) {
    throw new Error("key file: PBKDF2 iteration count too low");
  }
  const kek = await backupKek(passphrase, b64urlDecode(head.kdf.salt), iterations);
  let secret;
  try {
    secret = new Uint8Array(
      await subtle.decrypt(
        { name: "AES-GCM", iv: b64urlDecode(head.cipher.iv), additionalData: canonicalBytes(head) },
        kek,
        b64urlDecode(ciphertext),
      ),
    );
  } catch {
    throw new Error("wrong passphrase or damaged key file");
  }
  const inner = JSON.parse(dec.decode(secret));
  secret.fill(0);
  const sigPkcs8 = b64urlDecode(inner.signing);
  const encPkcs8 = b64urlDecode(inner.encryption);
  // Check the private keys match the public keys written beside them.
  const sigJwk = await subtle.exportKey("jwk", await importSigningPrivateKey(sigPkcs8, { extractable: true }));
  const encJwk = await subtle.exportKey("jwk", await importEncryptionPrivateKey(encPkcs8, { extractable: true }));
  const sigPub = await publicKeyBytes({ kty: "EC", x: sigJwk.x, y: sigJwk.y });
  const encPub = await publicKeyBytes({ kty: "EC", x: encJwk.x, y: encJwk.y });
  sigJwk.d = encJwk.d = "";
  if (b64urlEncode(sigPub) !== head.signing_public_key || b64urlEncode(encPub) !== head.encryption_public_key) {
    throw new Error("key file: private keys do not match the public keys");
  }
  const signing = {
    privateKey: await importSigningPrivateKey(sigPkcs8),
    publicKey: await importSigningPublicKey(sigPub),
  };
  const encryption = {
    privateKey: await importEncryptionPrivateKey(encPkcs8),
    publicKey: await importEncryptionPublicKey(encPub),
  };
  sigPkcs8.fill(0);
  encPkcs8.fill(0);
  return describeKeys(signing, encryption);
}

/**
 * Sign bytes with the keys' ECDSA P-256 private key (SHA-256): base64url of r || s (IEEE P1363), as the
 * manifest's signature. Experts sign their score statements this way (bidding.evaluation.services.expert_keys).
 */
export async function signBytes(keys, bytes) {
  return b64urlEncode(new Uint8Array(await subtle.sign(SIGN_ALG, keys.signing.privateKey, toBytes(bytes))));
}

// ---------------------------------------------------------------------------
// IndexedDB persistence (CryptoKey objects are structured-cloneable; the
// private keys stay non-extractable in storage too)
// ---------------------------------------------------------------------------

const IDB_NAME = "sunlight-sealer";
const IDB_STORE = "keys";

function idbOpen() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(IDB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(IDB_STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function idbRun(mode, fn) {
  const db = await idbOpen();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(IDB_STORE, mode);
      const req = fn(tx.objectStore(IDB_STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Store the keys under `name` in IndexedDB. Refuses extractable private keys. */
export async function saveKeys(name, keys) {
  for (const pair of [keys.signing, keys.encryption]) {
    if (!(pair?.privateKey instanceof CryptoKey) || pair.privateKey.extractable) {
      throw new Error("saveKeys stores non-extractable private CryptoKeys only");
    }
  }
  const record = {
    version: 1,
    signing: { privateKey: keys.signing.privateKey, publicKey: keys.signing.publicKey },
    encryption: { privateKey: keys.encryption.privateKey, publicKey: keys.encryption.publicKey },
    signingPublicKey: keys.signingPublicKey,
    encryptionPublicKey: keys.encryptionPublicKey,
    signingKeyFingerprint: keys.signingKeyFingerprint,
    encryptionKeyFingerprint: keys.encryptionKeyFingerprint,
    savedAt: new Date().toISOString(),
  };
  await idbRun("readwrite", (store) => store.put(record, name));
}

/** The keys stored under `name`, or null. */
export async function loadKeys(name) {
  const record = await idbRun("readonly", (store) => store.get(name));
  if (!record) return null;
  const { version, savedAt, ...keys } = record;
  return keys;
}

export async function deleteKeys(name) {
  await idbRun("readwrite", (store) => store.delete(name));
}

export async function listKeys() {
  return idbRun("readonly", (store) => store.getAllKeys());
}

// ---------------------------------------------------------------------------
// Envelope primitives
// ---------------------------------------------------------------------------

function aadFor(section, bidderCode, name) {
  return utf8(`${LABEL}|${section}|${bidderCode}|${name}`);
}

function infoFor(section, bidderCode, name, recipient) {
  return utf8(`${LABEL}|${section}|${bidderCode}|${name}|${recipient}`);
}

function nonceFor(index, last) {
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setBigUint64(0, BigInt(index), false);
  v.setUint32(8, last ? 1 : 0, false);
  return n;
}

function checkChunkSize(chunkSize) {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk_size must be an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
  }
}

async function hpkeSeal(recipientPublicKey, info, dataKey) {
  const { enc: e, ct } = await hpkeSuite.seal({ recipientPublicKey, info }, dataKey);
  return b64urlEncode(concatBytes(new Uint8Array(e), new Uint8Array(ct)));
}

const ENC_LENGTH = 65; // DHKEM(P-256) enc: uncompressed point

async function hpkeOpen(recipientKey, info, wrapped) {
  const blob = b64urlDecode(wrapped);
  if (blob.length <= ENC_LENGTH) throw new Error("wrapped key too short");
  const pt = await hpkeSuite.open(
    { recipientKey, enc: blob.slice(0, ENC_LENGTH), info },
    blob.slice(ENC_LENGTH),
  );
  return new Uint8Array(pt);
}

function isoSecondsUTC(d = new Date()) {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function partPlaintext(meta, content) {
  const m = canonicalBytes({ filename: meta.filename, content_type: meta.content_type });
  return new Blob([u32be(m.length), m, content]);
}

// ---------------------------------------------------------------------------
// Sealing
// ---------------------------------------------------------------------------

/**
 * Seal a bid. Resolves to a Blob: magic || header_length || header || parts.
 *
 * section, bidderCode: strings (the section's public id, the registration's code)
 * openingPublicKey: the section's opening key (base64url SEC1 / bytes / JWK / ECDH CryptoKey)
 * bidderPublicKey: the bidder's own encryption public key (same forms)
 * signingKey: the bidder's ECDSA P-256 private CryptoKey (may be non-extractable)
 * signingPublicKey: its public key (same forms as above), for the fingerprint
 * form: {price_fen: int, currency, duration_days: int, fields: {...}}
 * files: {commercial: File|Blob, technical: File|Blob} (either may be absent)
 * chunkSize: plaintext bytes per chunk (65536..16777216), default 1 MiB
 * onProgress(doneBytes, totalBytes): plaintext bytes encrypted so far
 * sealedAt: optional override of the informative timestamp (string)
 */
export async function sealEnvelope({
  section,
  bidderCode,
  openingPublicKey,
  bidderPublicKey,
  signingKey,
  signingPublicKey,
  form,
  files = {},
  chunkSize = DEFAULT_CHUNK_SIZE,
  onProgress,
  sealedAt,
} = {}) {
  if (typeof section !== "string" || section === "") throw new TypeError("section is required");
  if (typeof bidderCode !== "string" || bidderCode === "") throw new TypeError("bidderCode is required");
  if (!form || typeof form !== "object" || Array.isArray(form)) throw new TypeError("form must be an object");
  if (form.price_fen !== undefined && !(Number.isSafeInteger(form.price_fen) || typeof form.price_fen === "bigint")) {
    throw new TypeError("form.price_fen must be an integer number of fen");
  }
  if (!(signingKey instanceof CryptoKey) || signingKey.type !== "private") {
    throw new TypeError("signingKey must be a private ECDSA CryptoKey");
  }
  checkChunkSize(chunkSize);
  for (const name of Object.keys(files)) {
    if (!PART_NAMES.includes(name) || name === "form") throw new Error(`unknown part name: ${name}`);
  }

  const openingKey = await importEncryptionPublicKey(openingPublicKey);
  const bidderKey = await importEncryptionPublicKey(bidderPublicKey);
  const sigPub = await importSigningPublicKey(signingPublicKey);

  // Plaintext of every part, as Blobs composed without copying.
  const inputs = [
    { name: "form", plain: partPlaintext(FORM_META, canonicalBytes(form)) },
  ];
  for (const name of PART_NAMES.slice(1)) {
    const f = files[name];
    if (f === undefined || f === null) continue;
    if (!(f instanceof Blob)) throw new TypeError(`files.${name} must be a File or Blob`);
    const meta = {
      filename: typeof f.name === "string" && f.name !== "" ? f.name : name,
      content_type: f.type || "application/octet-stream",
    };
    inputs.push({ name, plain: partPlaintext(meta, f) });
  }

  const totalBytes = inputs.reduce((n, p) => n + p.plain.size, 0);
  let doneBytes = 0;
  if (onProgress) onProgress(0, totalBytes);

  const parts = [];
  const bodies = [];
  for (const { name, plain } of inputs) {
    const size = plain.size;
    const chunkCount = Math.max(1, Math.ceil(size / chunkSize));
    const dataKeyBytes = crypto.getRandomValues(new Uint8Array(32));
    const dataKey = await subtle.importKey("raw", dataKeyBytes, "AES-GCM", false, ["encrypt"]);
    const keyOpening = await hpkeSeal(openingKey, infoFor(section, bidderCode, name, "opening"), dataKeyBytes);
    const keyBidder = await hpkeSeal(bidderKey, infoFor(section, bidderCode, name, "bidder"), dataKeyBytes);
    dataKeyBytes.fill(0);

    const aad = aadFor(section, bidderCode, name);
    const hash = sha256.create();
    let ctSize = 0;
    // Read one chunk ahead while the current one is encrypted.
    const read = (i) => plain.slice(i * chunkSize, Math.min(size, (i + 1) * chunkSize)).arrayBuffer();
    let next = read(0);
    for (let i = 0; i < chunkCount; i++) {
      const pt = await next;
      if (i + 1 < chunkCount) next = read(i + 1);
      const last = i === chunkCount - 1;
      const ct = new Uint8Array(
        await subtle.encrypt({ name: "AES-GCM", iv: nonceFor(i, last), additionalData: aad }, dataKey, pt),
      );
      hash.update(ct);
      ctSize += ct.length;
      bodies.push(new Blob([ct]));
      doneBytes += pt.byteLength;
      if (onProgress) onProgress(doneBytes, totalBytes);
    }
    parts.push({
      name,
      chunk_size: chunkSize,
      chunk_count: chunkCount,
      ciphertext_size: ctSize,
      sha256: hex(hash.digest()),
      key_opening: keyOpening,
      key_bidder: keyBidder,
    });
  }

  const manifest = {
    format: FORMAT,
    version: VERSION,
    suite: SUITE,
    section,
    bidder_code: bidderCode,
    opening_key: await fingerprint(openingKey),
    bidder_key: await fingerprint(bidderKey),
    signing_key: await fingerprint(sigPub),
    sealed_at: sealedAt ?? isoSecondsUTC(),
    parts,
  };
  const signature = new Uint8Array(await subtle.sign(SIGN_ALG, signingKey, canonicalBytes(manifest)));
  if (!(await subtle.verify(SIGN_ALG, sigPub, signature, canonicalBytes(manifest)))) {
    throw new Error("signingPublicKey does not match signingKey");
  }
  const header = canonicalBytes({ manifest, signature: b64urlEncode(signature) });
  if (header.length > MAX_HEADER_LENGTH) throw new Error("header too long");
  return new Blob([MAGIC, u32be(header.length), header, ...bodies], { type: "application/octet-stream" });
}

// ---------------------------------------------------------------------------
// Reading and opening
// ---------------------------------------------------------------------------

function fail(msg) {
  throw new Error(`envelope: ${msg}`);
}

function isHex64(s) {
  return typeof s === "string" && /^[0-9a-f]{64}$/.test(s);
}

/**
 * Parse and check the envelope structure without decrypting: magic,
 * header, fields, sizes (and the signature if signingPublicKey is given).
 * Returns {manifest, signature, header (bytes), headerLength, bodyOffset,
 * parts: [{...part, offset}]}.
 */
export async function readEnvelopeHeader(blob, { signingPublicKey } = {}) {
  if (blob.size < 12) fail("file too short");
  const head = new Uint8Array(await blob.slice(0, 12).arrayBuffer());
  if (!bytesEqual(head.subarray(0, 8), MAGIC)) fail("bad magic or unsupported version");
  const headerLength = new DataView(head.buffer).getUint32(8, false);
  if (headerLength > MAX_HEADER_LENGTH) fail("header too long");
  if (blob.size < 12 + headerLength) fail("file too short for its header");
  const header = new Uint8Array(await blob.slice(12, 12 + headerLength).arrayBuffer());
  let obj;
  try {
    obj = JSON.parse(dec.decode(header));
  } catch {
    fail("header is not UTF-8 JSON");
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) fail("header is not an object");
  let canonical;
  try {
    canonical = canonicalBytes(obj);
  } catch (e) {
    fail(`header: ${e.message}`);
  }
  if (!bytesEqual(canonical, header)) fail("header is not canonical JSON");
  const { manifest, signature } = obj;
  if (Object.keys(obj).length !== 2 || !manifest || typeof manifest !== "object" || typeof signature !== "string") {
    fail("header must hold exactly manifest and signature");
  }
  if (manifest.format !== FORMAT) fail("manifest.format");
  if (manifest.version !== VERSION) fail("manifest.version");
  if (manifest.suite !== SUITE) fail(`unknown suite ${manifest.suite}`);
  for (const f of ["section", "bidder_code", "sealed_at"]) {
    if (typeof manifest[f] !== "string") fail(`manifest.${f}`);
  }
  for (const f of ["opening_key", "bidder_key", "signing_key"]) {
    if (!isHex64(manifest[f])) fail(`manifest.${f}`);
  }
  const sig = b64urlDecode(signature);
  if (sig.length !== 64) fail("signature must be 64 bytes");
  if (!Array.isArray(manifest.parts) || manifest.parts.length === 0) fail("manifest.parts");
  if (manifest.parts[0].name !== "form") fail("the first part must be form");
  const seen = new Set();
  let offset = 12 + headerLength;
  const parts = [];
  for (const p of manifest.parts) {
    if (!p || typeof p !== "object") fail("part");
    const where = `part ${JSON.stringify(p.name)}`;
    if (!PART_NAMES.includes(p.name)) fail(`${where}: unknown name`);
    if (seen.has(p.name)) fail(`${where}: duplicate`);
    seen.add(p.name);
    const { chunk_size: cs, chunk_count: cc, ciphertext_size: size } = p;
    if (!Number.isSafeInteger(cs) || cs < MIN_CHUNK_SIZE || cs > MAX_CHUNK_SIZE) fail(`${where}: chunk_size`);
    if (!Number.isSafeInteger(cc) || cc < 1) fail(`${where}: chunk_count`);
    if (!Number.isSafeInteger(size)) fail(`${where}: ciphertext_size`);
    const lastSize = size - (cc - 1) * (cs + TAG_SIZE);
    if (lastSize < TAG_SIZE || lastSize > cs + TAG_SIZE) fail(`${where}: ciphertext_size does not fit chunk_count/chunk_size`);
    if (!isHex64(p.sha256)) fail(`${where}: sha256`);
    if (typeof p.key_opening !== "string" || typeof p.key_bidder !== "string") fail(`${where}: key fields`);
    parts.push({ ...p, offset });
    offset += size;
  }
  if (offset !== blob.size) fail(`file size ${blob.size} does not match the manifest (${offset})`);
  if (signingPublicKey !== undefined) {
    const pub = await importSigningPublicKey(signingPublicKey);
    if ((await fingerprint(pub)) !== manifest.signing_key) fail("signing key fingerprint does not match");
    if (!(await subtle.verify(SIGN_ALG, pub, sig, canonicalBytes(manifest)))) fail("bad signature");
  }
  return { manifest, signature, header, headerLength, bodyOffset: 12 + headerLength, parts };
}

// P-256 domain parameters, to recover a bare private key's public point.
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const P256_GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const P256_GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

function bigToBytes32(n) {
  return Uint8Array.from(n.toString(16).padStart(64, "0").match(/../g), (h) => parseInt(h, 16));
}

function modPow(base, exp, mod) {
  let r = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) r = (r * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return r;
}

/**
 * The public key of a (possibly non-extractable) ECDH P-256 private key whose
 * fingerprint is `want`. ECDH with the base point gives x; y is one of the
 * two square roots, told apart by the fingerprint. (@hpke/core's own
 * fallback picks y by parity and so fails for about half of all keys.)
 */
async function publicKeyFor(privateKey, want) {
  const g = concatBytes(new Uint8Array([4]), bigToBytes32(P256_GX), bigToBytes32(P256_GY));
  const base = await subtle.importKey("raw", g, ECDH, true, []);
  const xBytes = new Uint8Array(await subtle.deriveBits({ name: "ECDH", public: base }, privateKey, 256));
  const x = BigInt("0x" + hex(xBytes));
  const rhs = (((modPow(x, 3n, P256_P) - 3n * x + P256_B) % P256_P) + P256_P) % P256_P;
  const y = modPow(rhs, (P256_P + 1n) / 4n, P256_P); // p = 3 (mod 4)
  for (const cand of [y, P256_P - y]) {
    const raw = concatBytes(new Uint8Array([4]), xBytes, bigToBytes32(cand));
    if ((await sha256Hex(raw)) === want) return importEncryptionPublicKey(raw);
  }
  return null;
}

async function recipientKeyAndPublic(privateKey, want) {
  // Accepts a CryptoKeyPair-like {privateKey, publicKey}, an ECDH private
  // CryptoKey (even non-extractable), or a private JWK / PKCS#8 bytes.
  // @hpke/core needs the recipient's public key beside the private key.
  let sk;
  let publicKey = null;
  if (privateKey && typeof privateKey === "object" && privateKey.privateKey) {
    sk = privateKey.privateKey;
    publicKey = await importEncryptionPublicKey(privateKey.publicKey);
  } else if (typeof CryptoKey !== "undefined" && privateKey instanceof CryptoKey) {
    sk = privateKey;
  } else if (privateKey && privateKey.kty === "EC") {
    sk = await importEncryptionPrivateKey(privateKey);
    publicKey = await importEncryptionPublicKey({ kty: "EC", x: privateKey.x, y: privateKey.y });
  } else {
    sk = await importEncryptionPrivateKey(privateKey);
  }
  if (publicKey === null) publicKey = await publicKeyFor(sk, want);
  if (publicKey === null || (await fingerprint(publicKey)) !== want) return null;
  return { privateKey: sk, publicKey };
}

/**
 * Open an envelope with the opening private key or the bidder's own
 * encryption private key.
 *
 * privateKey: {privateKey, publicKey} (best), an ECDH private CryptoKey,
 *             a private JWK or PKCS#8 bytes
 * recipient: "opening" | "bidder"
 * signingPublicKey: optional; when given the signature is checked too
 * parts: optional list of part names to open (default: all)
 *
 * Resolves to {form, parts: {name: File}, manifest}. form is the parsed
 * bid form; parts holds every opened part's content (the form's too) as a
 * File named and typed from the part's meta. Any failure throws an Error
 * naming the part and, for decryption, the chunk.
 */
export async function openEnvelope(
  blob,
  { privateKey, recipient = "opening", signingPublicKey, parts: only, onProgress } = {},
) {
  if (recipient !== "opening" && recipient !== "bidder") throw new TypeError('recipient is "opening" or "bidder"');
  const env = await readEnvelopeHeader(blob, { signingPublicKey });
  const { manifest } = env;
  const want = recipient === "opening" ? manifest.opening_key : manifest.bidder_key;
  const recipientKey = await recipientKeyAndPublic(privateKey, want);
  if (recipientKey === null) fail(`this key is not the envelope's ${recipient} key (fingerprint mismatch)`);
  const selected = env.parts.filter((p) => !only || only.includes(p.name));
  const totalBytes = selected.reduce((n, p) => n + p.ciphertext_size, 0);
  let doneBytes = 0;
  const out = {};
  let form;
  for (const p of selected) {
    const where = `part "${p.name}"`;
    let dataKeyBytes;
    try {
      dataKeyBytes = await hpkeOpen(
        recipientKey,
        infoFor(manifest.section, manifest.bidder_code, p.name, recipient),
        recipient === "opening" ? p.key_opening : p.key_bidder,
      );
    } catch (e) {
      fail(`${where}: cannot unwrap the data key (${e.message || e})`);
    }
    if (dataKeyBytes.length !== 32) fail(`${where}: data key is not 32 bytes`);
    const dataKey = await subtle.importKey("raw", dataKeyBytes, "AES-GCM", false, ["decrypt"]);
    dataKeyBytes.fill(0);
    const aad = aadFor(manifest.section, manifest.bidder_code, p.name);
    const hash = sha256.create();
    const stride = p.chunk_size + TAG_SIZE;
    const end = p.offset + p.ciphertext_size;
    let prefix = new Uint8Array(0); // bytes until meta is complete
    let meta = null;
    const content = [];
    const read = (i) => blob.slice(p.offset + i * stride, Math.min(end, p.offset + (i + 1) * stride)).arrayBuffer();
    let next = read(0);
    for (let i = 0; i < p.chunk_count; i++) {
      const ct = new Uint8Array(await next);
      if (i + 1 < p.chunk_count) next = read(i + 1);
      hash.update(ct);
      const last = i === p.chunk_count - 1;
      let pt;
      try {
        pt = new Uint8Array(
          await subtle.decrypt({ name: "AES-GCM", iv: nonceFor(i, last), additionalData: aad }, dataKey, ct),
        );
      } catch {
        fail(`${where} chunk ${i}: authentication failed`);
      }
      if (!last && pt.length !== p.chunk_size) fail(`${where} chunk ${i}: wrong size`);
      if (meta === null) {
        prefix = concatBytes(prefix, pt);
        if (prefix.length >= 4) {
          const ml = new DataView(prefix.buffer, prefix.byteOffset).getUint32(0, false);
          if (prefix.length >= 4 + ml) {
            try {
              meta = JSON.parse(dec.decode(prefix.subarray(4, 4 + ml)));
            } catch {
              fail(`${where}: meta is not UTF-8 JSON`);
            }
            if (!meta || typeof meta !== "object") fail(`${where}: meta is not an object`);
            content.push(prefix.slice(4 + ml));
            prefix = null;
          } else if (ml > p.chunk_size * p.chunk_count) {
            fail(`${where}: meta length too large`);
          }
        }
      } else {
        content.push(new Blob([pt]));
      }
      doneBytes += ct.length;
      if (onProgress) onProgress(doneBytes, totalBytes);
    }
    if (meta === null) fail(`${where}: plaintext shorter than its meta`);
    if (hex(hash.digest()) !== p.sha256) fail(`${where}: SHA-256 of the ciphertext does not match the manifest`);
    const file = new File(content, typeof meta.filename === "string" ? meta.filename : p.name, {
      type: typeof meta.content_type === "string" ? meta.content_type : "",
    });
    out[p.name] = file;
    if (p.name === "form") {
      try {
        form = JSON.parse(await file.text());
      } catch {
        fail(`${where}: the bid form is not JSON`);
      }
    }
  }
  return { form, parts: out, manifest };
}

/**
 * 在线解密 (unlocking one's own bid at the opening): every part's data key from a manifest, unwrapped
 * with the bidder's own encryption key, as base64url to send to the platform. The private key never
 * leaves the browser; only the data keys of this one bid do.
 */
export async function unwrapDataKeys(manifest, privateKey, { recipient = "bidder" } = {}) {
  if (recipient !== "opening" && recipient !== "bidder") throw new TypeError('recipient is "opening" or "bidder"');
  const want = recipient === "opening" ? manifest.opening_key : manifest.bidder_key;
  const recipientKey = await recipientKeyAndPublic(privateKey, want);
  if (recipientKey === null) fail(`this key is not the envelope's ${recipient} key (fingerprint mismatch)`);
  const keys = {};
  for (const p of manifest.parts) {
    const wrapped = recipient === "opening" ? p.key_opening : p.key_bidder;
    const dataKey = await hpkeOpen(recipientKey, infoFor(manifest.section, manifest.bidder_code, p.name, recipient), wrapped);
    keys[p.name] = b64urlEncode(dataKey);
    dataKey.fill(0);
  }
  return keys;
}
