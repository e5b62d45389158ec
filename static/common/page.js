// What the pages' scripts share: API calls with the session and the CSRF token, and the key backup button.
import { exportKeyFile } from "/static/sealer/sealer.js";

const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] ?? "";

/** fetch() on this site; an error answer's code and message become the thrown Error's text. */
export async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options,
    headers: { "X-CSRFToken": csrf, Accept: "application/json", ...(options.headers || {}) } });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw Object.assign(new Error(body?.code ? `${body.code}: ${body.message}` : response.statusText), { body });
  return body;
}

export const postJSON = (path, body) =>
  api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

/** Show `button`; a click asks for a passphrase (12 characters or more) and downloads the keys' backup file. */
export function offerKeyBackup(button, keys, { filename, ask, tooShort, say }) {
  button.hidden = false;
  button.onclick = async () => {
    const passphrase = prompt(ask) || "";
    if (passphrase.length < 12) return say(tooShort);
    const blob = await exportKeyFile(keys, passphrase);
    Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: filename }).click();
  };
}
