/**
 * A WebSocket that reconnects. The server sends a snapshot on every connect,
 * so a reconnect is also how a client catches up on what it missed.
 */

export type LiveMessage = { type: string; [key: string]: unknown };

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000];

export class LiveSocket {
  private socket: WebSocket | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly onMessage: (message: LiveMessage) => void,
    private readonly onState: (connected: boolean) => void = () => undefined,
  ) {
    this.open();
  }

  send(message: LiveMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
  }

  private open(): void {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${this.path}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.onState(true);
    };
    socket.onmessage = (event) => {
      try {
        this.onMessage(JSON.parse(String(event.data)) as LiveMessage);
      } catch {
        // a message that is not JSON is not ours
      }
    };
    socket.onclose = (event) => {
      this.onState(false);
      // 4401/4403: not allowed; retrying will not change that.
      if (this.closed || event.code === 4401 || event.code === 4403) return;
      const delay = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)] ?? 10000;
      this.attempts += 1;
      this.timer = setTimeout(() => this.open(), delay);
    };
  }
}
