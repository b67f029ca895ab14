/** Jupyter messaging protocol 5.3 as JSON over the kernels WebSocket. */
import { newId } from "../util/ids";

export const PROTOCOL_VERSION = "5.3";

export type Channel = "shell" | "iopub" | "stdin" | "control";

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

// Content is typed where it is read, by message type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Content = Record<string, any>;

export interface KernelMessage {
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: Content;
  buffers?: unknown[];
  channel: Channel;
}

export function makeMessage(
  channel: Channel,
  msgType: string,
  content: Content,
  session: string,
  parent: Partial<MessageHeader> = {},
): KernelMessage {
  return {
    header: {
      msg_id: newId(),
      msg_type: msgType,
      session,
      username: "cellhub",
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    },
    parent_header: parent,
    metadata: {},
    content,
    buffers: [],
    channel,
  };
}

/** Jupyter counts cursor positions in Unicode code points; JavaScript strings count UTF-16 units. */
export function toCodePoints(text: string, offset: number): number {
  let points = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < offset) i++;
    points++;
  }
  return points;
}

export function fromCodePoints(text: string, points: number): number {
  let offset = 0;
  for (let p = 0; p < points && offset < text.length; p++) {
    const code = text.charCodeAt(offset);
    offset += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
  }
  return offset;
}
