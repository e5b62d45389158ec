// The live opening page: replays the opening's stream from the first event, then follows it live.
// Every panel is drawn from what the stream said (through the server's visibility policy): bidder
// codes until a bid is read out, names after.
import { openStream } from "/static/livestream/stream.js";

const root = document.querySelector("[data-opening]");
const L = JSON.parse(document.getElementById("opening-labels").textContent);
const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
const view = {
  state: null, codes: [], checkins: [], quorum: null, progress: null,
  lines: [], objections: new Map(), closing: "",
};

function yuan(fen) {
  if (typeof fen !== "number") return "";
  const whole = Math.floor(fen / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${whole}.${String(fen % 100).padStart(2, "0")}`;
}

function apply(event) {
  const p = event.payload || {};
  switch (event.kind) {
    case "opening.started": view.state = "checkin"; view.codes = p.codes || []; view.quorum = { presented: 0, threshold: p.threshold }; view.progress = { done: 0, total: view.codes.length }; break;
    case "opening.failed": view.state = "failed"; view.closing = p.message || p.rule; break;
    case "opening.checkin": if (!view.checkins.includes(p.code)) view.checkins.push(p.code); break;
    case "opening.decrypting": view.state = "decrypting"; view.quorum = { presented: p.presented, threshold: p.threshold }; break;
    case "opening.share": view.quorum = { presented: p.presented, threshold: p.threshold }; break;
    case "opening.quorum": view.quorum = { presented: p.presented, threshold: p.threshold, met: true }; break;
    case "opening.progress": view.progress = { done: p.done, total: p.total }; break;
    case "opening.readout_started": view.state = "readout"; break;
    case "opening.readout": view.lines.push(p); break;
    case "opening.objection": view.objections.set(p.id, { code: p.code, text: p.text, answer: null }); break;
    case "opening.answer": { const o = view.objections.get(p.id); if (o) o.answer = p.answer; break; }
    case "opening.closed": view.state = "closed"; view.closing = `${L.record} SHA-256 ${p.record_sha256}`; break;
    default: break;
  }
}

function who(code, names) {
  const name = names.get(code);
  return name ? `${name}（${code}）` : code;
}

function cell(text, testid) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (testid) td.dataset.testid = testid;
  return td;
}

function render(names) {
  if (view.state) $("state").textContent = L.states[view.state] || view.state;
  const checkins = $("checkins");
  checkins.replaceChildren(...view.checkins.map((code) => {
    const li = document.createElement("li");
    li.textContent = who(code, names);
    li.dataset.code = code;
    return li;
  }));
  if (view.quorum) $("quorum").textContent = `${view.quorum.presented} / ${view.quorum.threshold}${view.quorum.met ? " ✓ " + L.quorum : ""}`;
  if (view.progress) $("progress").textContent = `${view.progress.done} / ${view.progress.total}`;
  $("readout").replaceChildren(...view.lines.map((line) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = "readout-row";
    tr.dataset.code = line.code;
    const opened = line.status === "opened";
    const fields = opened ? Object.entries(line.fields || {}).map(([k, v]) => `${k}：${v}`).join("；") : `${line.reason || ""}`;
    tr.append(
      cell(String(line.order)), cell(who(line.code, names), "readout-name"), cell(opened ? yuan(line.price_fen) : "", "readout-price"),
      cell(opened ? line.duration_days : ""), cell(fields),
      cell(opened ? L.opened : `${L.failed}（${L.faults[line.fault] || line.fault}）`, "readout-status"),
    );
    return tr;
  }));
  $("objections").replaceChildren(...[...view.objections.entries()].map(([id, o]) => {
    const li = document.createElement("li");
    li.dataset.testid = "objection";
    li.textContent = `${who(o.code, names)}：${o.text}`;
    if (o.answer) {
      const answer = document.createElement("div");
      answer.className = "meta";
      answer.dataset.testid = "answer";
      answer.textContent = `${L.answer}：${o.answer}`;
      li.append(answer);
    }
    return li;
  }));
  $("closing").textContent = view.closing;
}

// What one may do here (the staff console's acts, a bidder's check-in and unlock) follows the opening: when
// the stream moves it to another state than the one they were drawn for, the server draws them again (it
// decides them); the rest of the page, and any text being typed in them, is kept.
let acts = document.querySelector("[data-acts-state]");
let drawing = false;
let missed = false;
async function redrawActs(tries = 5) {
  if (!acts || !view.state || view.state === acts.dataset.actsState) return;
  if (drawing) {
    missed = true;  // the state moved on during a redraw: drawn again once it is done
    return;
  }
  drawing = true;
  try {
    const response = await fetch(location.href, { credentials: "same-origin" });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-acts-state]");
    if (response.ok && fresh) {
      for (const typed of acts.querySelectorAll("textarea[data-testid], input[type=text][data-testid]")) {
        const twin = fresh.querySelector(`[data-testid="${typed.dataset.testid}"]`);
        if (twin && !twin.value) twin.value = typed.value;
      }
      acts.replaceWith(fresh);
      acts = fresh;
    }
  } finally {
    drawing = false;
  }
  // Drawn for a state the stream has left since, or fetched before the server had moved on: again, shortly.
  if (view.state !== acts.dataset.actsState && (missed || tries > 1)) {
    missed = false;
    setTimeout(() => redrawActs(tries - 1), 500);
  }
}

function follow() {
  const stream = openStream(root.dataset.stream, {
    onEvents(events) {
      for (const event of events) apply(event);
      render(stream.names);
      redrawActs();
    },
    onState(state, detail) {
      // No stream until staff start the opening: say so, and look again in a few seconds.
      const waiting = state === "closed" && detail && detail.code === 4404;
      $("connection").textContent = waiting ? L.waiting : L.connection[state] || state;
      if (waiting) setTimeout(follow, 3000);
    },
    onPresence(viewers) { $("viewers").textContent = `${L.viewers} ${viewers}`; },
  });
  window.openingStream = stream;
}
follow();

const video = root.querySelector("[data-testid=camera]");
if (video) {
  const url = video.dataset.src;
  // hls.js where Media Source Extensions exist (the same player everywhere), else the browser's own HLS.
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls();
    hls.loadSource(url);
    hls.attachMedia(video);
    video.dataset.player = "hls.js";
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    video.dataset.player = "native";
  }
}
