/**
 * Jupyter's binary WebSocket frame (the "legacy" format Jupyter Server speaks when no
 * subprotocol is chosen), used for messages that carry binary `buffers` (widgets):
 *
 *   [n: u32][offset_0 … offset_{n-1}: u32][json][buffer_1]…[buffer_{n-1}]   (big-endian)
 *
 * `n` counts the JSON part as the first of the n parts; each offset is where its part starts.
 * Messages without buffers stay plain JSON text frames.
 */
import type { KernelMessage } from "./messages";

export type Buffer = ArrayBuffer | ArrayBufferView;

export function encodeBinaryMessage(message: KernelMessage, buffers: readonly Buffer[]): ArrayBuffer {
  const { buffers: _ignored, ...rest } = message;
  const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(rest)), ...buffers.map(toBytes)];
  const headerSize = 4 * (parts.length + 1);
  const total = headerSize + parts.reduce((sum, part) => sum + part.byteLength, 0);
  const frame = new ArrayBuffer(total);
  const header = new DataView(frame);
  const bytes = new Uint8Array(frame);
  header.setUint32(0, parts.length);
  let offset = headerSize;
  parts.forEach((part, index) => {
    header.setUint32(4 * (index + 1), offset);
    bytes.set(part, offset);
    offset += part.byteLength;
  });
  return frame;
}

/** The message in a binary frame, its `buffers` as DataViews (what widget models expect). */
export function decodeBinaryMessage(frame: ArrayBuffer): KernelMessage {
  const view = new DataView(frame);
  const parts = view.getUint32(0);
  if (parts < 1 || frame.byteLength < 4 * (parts + 1)) throw new Error("bad binary kernel message");
  const offsets: number[] = [];
  for (let i = 0; i < parts; i++) offsets.push(view.getUint32(4 * (i + 1)));
  offsets.push(frame.byteLength);
  const json = new TextDecoder().decode(new Uint8Array(frame, offsets[0], offsets[1] - offsets[0]));
  const message = JSON.parse(json) as KernelMessage;
  message.buffers = offsets.slice(1, -1).map((start, i) => new DataView(frame, start, offsets[i + 2] - start));
  return message;
}

/** Buffers that arrived inside JSON (base64 strings) become DataViews too. */
export function normalizeBuffers(message: KernelMessage): KernelMessage {
  const buffers = message.buffers;
  if (!buffers?.length) return message;
  message.buffers = buffers.map((buffer) => {
    if (typeof buffer !== "string") return buffer;
    const binary = atob(buffer);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new DataView(bytes.buffer);
  });
  return message;
}

function toBytes(buffer: Buffer): Uint8Array {
  return buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
