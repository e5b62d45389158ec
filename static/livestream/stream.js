// Live stream client: resume from the last seq seen, drop duplicates, reconnect with backoff.
//
//   import { openStream } from "/static/livestream/stream.js";
//   const stream = openStream("opening.S-2026-00001", {
//     onEvents(events, { replay }) { ... },   // in seq order, each once
//     onState(state, detail) { ... },         // "connecting" | "live" | "retrying" | "closed"
//     onPresence(viewers) { ... },
//   });
//   stream.names.get("B-7K3Q")   // a bidder's name once this viewer may know it
//   options: after (last seq already held), url(key, after), socket(url) (a WebSocket factory),
//            minDelay / maxDelay (reconnect backoff, ms), onError(frame)
//   stream.close();
//
// Frames from the server (JSON): hello {t, stream, kind, seq, after, viewers, heartbeat},
// ev {t, events: [{seq, kind, at, payload, bidders?}], replay?}, hb {t, seq, viewers},
// pong {t, seq, id?}, error {t, code, message}. Close codes 4400/4403/4404 are final.

const FINAL_CODES = new Set([4400, 4403, 4404]);

export class StreamClient {
  constructor(key, options = {}) {
    this.key = key;
    this.lastSeq = options.after ?? 0;
    this.names = new Map();
    this.viewers = null;
    this.options = options;
    this.minDelay = options.minDelay ?? 500;
    this.maxDelay = options.maxDelay ?? 30000;
    this.attempts = 0;
    this.stopped = false;
    this.socket = null;
    this.watchdog = null;
    this.heartbeat = 15;
  }

  url() {
    if (this.options.url) return this.options.url(this.key, this.lastSeq);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/streams/${encodeURIComponent(this.key)}/?after=${this.lastSeq}`;
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000);
    this.state("closed", { reason: "client" });
  }

  state(name, detail = {}) {
    this.options.onState?.(name, detail);
  }

  connect() {
    this.state("connecting", { after: this.lastSeq });
    const socket = this.options.socket ? this.options.socket(this.url()) : new WebSocket(this.url());
    this.socket = socket;
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (closing) => {
      if (socket !== this.socket) return;
      clearTimeout(this.watchdog);
      if (this.stopped) return;
      if (FINAL_CODES.has(closing.code)) {
        this.stopped = true;
        this.state("closed", { code: closing.code, error: this.lastError });
        return;
      }
      this.retry(closing.code);
    };
  }

  retry(code) {
    // Exponential backoff with jitter, so a restarted server is not hit by every viewer at once.
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempts += 1;
    this.state("retrying", { code, delay, attempts: this.attempts });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  resetWatchdog() {
    // Two heartbeats missed: the connection is dead even if the browser has not noticed.
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.socket?.close(4000), this.heartbeat * 2500);
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.resetWatchdog();
    switch (frame.t) {
      case "hello":
        this.attempts = 0;
        this.heartbeat = frame.heartbeat || this.heartbeat;
        this.presence(frame.viewers);
        this.state("live", { seq: frame.seq });
        break;
      case "ev":
        this.events(frame.events, Boolean(frame.replay));
        break;
      case "hb":
        this.presence(frame.viewers);
        if (frame.seq > this.lastSeq) this.socket.close(4001); // behind: resume from the server's history
        break;
      case "error":
        this.lastError = frame;
        this.options.onError?.(frame);
        break;
      default:
        break;
    }
  }

  events(events, replay) {
    const fresh = [];
    for (const event of events) {
      if (event.seq <= this.lastSeq) continue; // seen already
      if (event.seq !== this.lastSeq + 1) {
        // A hole: never show events out of order; reconnect and let the server fill it.
        this.socket.close(4001);
        break;
      }
      for (const [code, entry] of Object.entries(event.bidders || {})) {
        if (entry && entry.name) this.names.set(code, entry.name);
      }
      fresh.push(event);
      this.lastSeq = event.seq;
    }
    if (fresh.length) this.options.onEvents?.(fresh, { replay });
  }

  presence(viewers) {
    if (typeof viewers === "number" && viewers !== this.viewers) {
      this.viewers = viewers;
      this.options.onPresence?.(viewers);
    }
  }
}

export function openStream(key, options = {}) {
  return new StreamClient(key, options).start();
}
