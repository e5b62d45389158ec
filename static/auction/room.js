// The auction room: live offers from the sale's stream, the countdown against the server's clock,
// the viewer's own position, and an offer box that refuses a too-low offer before sending it.
import { openStream } from "../livestream/stream.js";

const room = JSON.parse(document.getElementById("room-data").textContent);
const $ = (id) => document.getElementById(id);
const T = JSON.parse(document.getElementById("room-texts").textContent); // gettext's words, from the page

// The server's clock decides: keep the offset between it and this machine's.
const skew = Date.parse(room.server_now) - Date.now();
const serverNow = () => Date.now() + skew;

const state = {
  phase: room.state,
  price: room.current_price_fen,
  leader: room.leader,
  nextMin: room.next_min_fen,
  listingStart: Date.parse(room.listing_start),
  listingEnd: Date.parse(room.listing_end),
  endsAt: room.countdown_ends_at ? Date.parse(room.countdown_ends_at) : null,
  frozenMs: room.suspended ? room.frozen_remaining_ms : null,
  mine: room.me?.code ?? null,
  offered: Boolean(room.me?.offered),
  codes: new Map(), // seq -> code, to relabel once names are revealed
};

function yuan(fen) {
  if (fen === null || fen === undefined) return "—";
  const s = (Math.trunc(fen / 100)).toLocaleString("en-US");
  return `${s}.${String(fen % 100).padStart(2, "0")}`;
}

function label(code) {
  return stream?.names.get(code) || code;
}

function render() {
  $("state").textContent = T[state.phase] || state.phase;
  $("price").textContent = yuan(state.price);
  $("leader").textContent = state.leader ? label(state.leader) : "—";
  if ($("next-min")) $("next-min").textContent = yuan(state.nextMin);
  $("suspended").hidden = state.frozenMs === null;
  if ($("position")) {
    $("position").textContent = state.leader && state.leader === state.mine ? T.leading : state.offered ? T.outbid : T.none;
    $("position").dataset.position = state.leader === state.mine ? "leading" : state.offered ? "outbid" : "none";
  }
  if (["sold", "failed"].includes(state.phase) && $("offer-form")) $("offer-form").hidden = true;
  tick();
}

function tick() {
  let target = null;
  let text = T.toListingEnd;
  if (state.phase === "scheduled") [target, text] = [state.listingStart, T.toStart];
  if (state.phase === "listing") target = state.listingEnd;
  if (state.phase === "countdown") [target, text] = [state.endsAt, T.toCountdownEnd];
  $("clock-label").textContent = text;
  let left = null;
  if (state.frozenMs !== null) left = state.frozenMs;
  else if (target !== null) left = Math.max(0, target - serverNow());
  if (left === null || ["sold", "failed"].includes(state.phase)) {
    $("clock").textContent = "—";
    $("warning").hidden = true;
    return;
  }
  const s = Math.ceil(left / 1000);
  const days = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((n) => String(n).padStart(2, "0"));
  $("clock").textContent = (days ? `${days}d ` : "") + hms.join(":") + (state.frozenMs !== null ? ` (${T.frozen})` : "");
  $("clock").dataset.ms = String(left);
  $("warning").hidden = !(state.phase === "countdown" && left <= 60000 && state.frozenMs === null);
}
setInterval(tick, 250);

function addOffer(p) {
  const item = document.createElement("li");
  item.value = p.offer;
  item.dataset.seq = p.offer;
  item.dataset.code = p.code;
  item.dataset.amount = p.amount_fen;
  if (p.code === state.mine) item.classList.add("mine");
  const at = new Date(p.at).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  item.innerHTML = `<span class="who"></span> <strong></strong> ${T.yuan} <span class="muted"></span>`;
  item.querySelector(".who").textContent = label(p.code);
  item.querySelector("strong").textContent = yuan(p.amount_fen);
  item.querySelector(".muted").textContent = `${at}.${String(new Date(p.at).getMilliseconds()).padStart(3, "0")} ${p.phase === "countdown" ? T.countdown : T.listing}`;
  $("offers").prepend(item);
  state.codes.set(p.offer, p.code);
}

function showResult(p) {
  const box = $("result");
  box.hidden = false;
  box.dataset.state = p.state;
  box.dataset.winner = p.winner || "";
  const lines = [];
  if (p.state === "sold") {
    lines.push(`${T.won}: ${label(p.winner)} (${p.winner})`, `${T.price}: ${yuan(p.price_fen)} ${T.yuan}`);
    if (p.premium_rate !== null) lines.push(`${T.premium}: ${(Number(p.premium_rate) * 100).toFixed(2)}%`);
  } else {
    lines.push(p.failure === "BELOW-RESERVE" ? T.failedBelow : T.failedNone);
  }
  if (p.reserve) lines.push(`${T.reserve}: ${yuan(p.reserve.fen)} ${T.yuan} · salt ${p.reserve.salt}`);
  box.replaceChildren(...lines.map((line) => Object.assign(document.createElement("p"), { textContent: line })));
  for (const item of $("offers").children) item.querySelector(".who").textContent = label(item.dataset.code);
}

function apply(event) {
  const p = event.payload;
  switch (event.kind) {
    case "sale.listing":
      state.phase = "listing";
      state.listingEnd = Date.parse(p.listing_end);
      break;
    case "offer.accepted":
      addOffer(p);
      state.price = p.amount_fen;
      state.leader = p.code;
      state.nextMin = p.next_min_fen;
      if (p.code === state.mine) state.offered = true;
      if (p.phase === "countdown") {
        state.phase = "countdown";
        state.endsAt = Date.parse(p.ends_at);
      } else if (state.phase === "scheduled") state.phase = "listing";
      break;
    case "sale.countdown":
      state.phase = "countdown";
      state.endsAt = Date.parse(p.ends_at);
      break;
    case "sale.suspended":
      state.frozenMs = p.remaining_ms;
      break;
    case "sale.resumed":
      state.frozenMs = null;
      if (p.state === "countdown") state.endsAt = Date.parse(p.ends_at);
      else state.listingEnd = Date.parse(p.ends_at);
      break;
    case "sale.result":
      state.phase = p.state;
      showResult(p);
      break;
    default:
      break;
  }
}

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const stream = openStream(room.stream, {
  url: (key, after) => `${scheme}//${location.host}/ws/auctions/${encodeURIComponent(room.section)}/?after=${after}`,
  onEvents(events) {
    for (const event of events) apply(event);
    render();
  },
  onState(name) {
    document.body.dataset.stream = name;
  },
});
window.auctionRoom = { state, stream };

const form = $("offer-form");
if (form) {
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  form.addEventListener("submit", async (submit) => {
    submit.preventDefault();
    const message = $("offer-message");
    const fen = Math.round(Number($("offer-amount").value) * 100);
    // Refused here, before sending: the server would refuse it too (OFFER-TOO-LOW).
    if (!Number.isFinite(fen) || fen < state.nextMin) {
      message.textContent = `${T.tooLow} ${yuan(state.nextMin)} ${T.yuan}`;
      message.dataset.code = "OFFER-TOO-LOW";
      message.dataset.sent = "no";
      return;
    }
    message.dataset.sent = "yes";
    const response = await fetch(`/api/v1/sales/${encodeURIComponent(room.section)}/offers/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify({ amount_fen: fen }),
    });
    const body = await response.json();
    if (response.ok) {
      message.textContent = `${T.sent}: #${body.seq} ${yuan(body.amount_fen)} ${T.yuan}`;
      message.dataset.code = "OK";
    } else {
      message.textContent = `${body.code}: ${body.message}`;
      message.dataset.code = body.code;
    }
  });
}
render();
