import { OplogError } from '@oplog/protocol';
import WebSocket from 'ws';

/** Emitted by a frame-limited socket, with the OplogError to answer, when a frame is over maxPayload. */
export const FRAME_TOO_BIG = 'oplog-frame-too-big';

/**
 * The WebSocket class for the server (its `WebSocket` option): ws stops reading a frame as soon as its header says it
 * is over maxPayload (which is what bounds memory), calls `close(1009)` with no reason, then emits 'error'. That
 * bare close becomes a FRAME_TOO_BIG event, so that the session answers with an error frame and a close reason
 * naming the code and the limit, as for every other refusal. Our own closes always carry a reason.
 */
export function frameLimitedSocket(maxPayload: number): typeof WebSocket {
  return class FrameLimitedSocket extends WebSocket {
    override close(code?: number, data?: string | Buffer): void {
      if (code === 1009 && data === undefined && this.readyState === WebSocket.OPEN) {
        this.emit(FRAME_TOO_BIG, OplogError.frameTooBig(maxPayload));
        // A listener closed it, with the reason; without one, ws's bare close as before.
        if (this.readyState !== WebSocket.OPEN) return;
      }
      super.close(code, data);
    }
  };
}
